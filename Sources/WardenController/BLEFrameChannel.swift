import BlueZ
import WardenKey

/// A phone's LE L2CAP connection-oriented channel: one protocol frame per SDU.
public final class BLEFrameChannel: FrameChannel {
    let channel: L2CAPChannel
    public let peer: String

    public init(_ channel: L2CAPChannel) {
        self.channel = channel
        self.peer = "ble:\(channel.peer)"
    }

    public func receive() async throws -> [UInt8] {
        let sdu = try await channel.receive()
        guard sdu.count <= Frame.headerSize + Frame.maxPayload else { throw ProtocolError(.badFrame, "SDU larger than the frame limit") }
        return sdu
    }

    public func send(_ frame: [UInt8]) async throws { try await channel.send(frame) }
    public func close() { channel.close() }
}
