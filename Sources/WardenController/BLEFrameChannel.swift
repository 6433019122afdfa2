import BlueZ
import Synchronization
import WardenProtocol

/// A phone's LE L2CAP connection-oriented channel. Frames are reassembled by their 3-byte header, so a phone whose
/// stack splits a frame over several SDUs (iOS and Android expose L2CAP channels as streams) is read correctly,
/// and several frames in one SDU are split.
public final class BLEFrameChannel: FrameChannel {
    let channel: L2CAPChannel
    public let peer: String
    private let reassembler = Mutex(FrameReassembler())

    public init(_ channel: L2CAPChannel) {
        self.channel = channel
        self.peer = "ble:\(channel.peer)"
    }

    public func receive() async throws -> [UInt8] {
        while true {
            if let frame = try reassembler.withLock({ r throws(ProtocolError) in try r.next() }) { return frame }
            let sdu = try await channel.receive()
            reassembler.withLock { $0.append(sdu) }
        }
    }

    public func send(_ frame: [UInt8]) async throws { try await channel.send(frame) }
    public func close() { channel.close() }
}
