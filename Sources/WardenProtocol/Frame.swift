/// One protocol message: `type (1) | length of payload (2, big-endian) | payload`. The same bytes travel as one L2CAP
/// SDU, one seqpacket datagram, or back to back on a TCP stream. Parsing never traps on peer input.
public struct Frame: Sendable, Equatable {
    public static let headerSize = 3
    /// Largest payload accepted in version 1. A typical PRESENT is ~560 bytes.
    public static let maxPayload = 2048

    public var type: FrameType
    public var payload: [UInt8]

    public init(_ type: FrameType, _ payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    public var bytes: [UInt8] { Frame.header(type, payload.count) + payload }

    static func header(_ type: FrameType, _ length: Int) -> [UInt8] {
        [type.rawValue, UInt8(length >> 8), UInt8(length & 0xFF)]
    }

    /// Parses exactly one frame occupying all of `bytes`.
    public static func parse(_ bytes: [UInt8]) throws(ProtocolError) -> Frame {
        guard bytes.count >= headerSize else { throw ProtocolError(.badFrame, "frame shorter than its 3-byte header") }
        guard let type = FrameType(rawValue: bytes[0]) else {
            throw ProtocolError(.badFrame, "unknown frame type 0x\(String(bytes[0], radix: 16))")
        }
        let length = Int(bytes[1]) << 8 | Int(bytes[2])
        guard length <= maxPayload else {
            throw ProtocolError(.badFrame, "payload length \(length) exceeds \(maxPayload)")
        }
        guard bytes.count == headerSize + length else {
            throw ProtocolError(.badFrame, "frame says \(length) payload bytes, carries \(bytes.count - headerSize)")
        }
        return Frame(type, Array(bytes[headerSize...]))
    }

    /// For stream transports: how many bytes the frame starting at `header` occupies, once 3 bytes are available.
    public static func totalLength(header: some Collection<UInt8>) throws(ProtocolError) -> Int {
        let h = Array(header.prefix(3))
        guard h.count == 3 else { throw ProtocolError(.badFrame, "incomplete header") }
        let length = Int(h[1]) << 8 | Int(h[2])
        guard length <= maxPayload else {
            throw ProtocolError(.badFrame, "payload length \(length) exceeds \(maxPayload)")
        }
        return headerSize + length
    }
}
