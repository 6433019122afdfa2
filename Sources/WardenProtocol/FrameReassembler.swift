/// Cuts a byte stream into protocol frames by their 3-byte header. Stream-style channels (iOS `CBL2CAPChannel`,
/// Android `BluetoothSocket`, TCP) may split a frame or join several; feed whatever arrives and take whole frames.
public struct FrameReassembler: Sendable {
    private var buffer: [UInt8] = []

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) { buffer += bytes }

    /// The next whole frame, or nil until more bytes arrive. Throws `badFrame` on an impossible header.
    public mutating func next() throws(ProtocolError) -> [UInt8]? {
        guard buffer.count >= Frame.headerSize else { return nil }
        let total = try Frame.totalLength(header: buffer)
        guard buffer.count >= total else { return nil }
        defer { buffer.removeFirst(total) }
        return Array(buffer[..<total])
    }
}
