import POSIXIO
import WardenProtocol

/// The development transports: a Unix SOCK_SEQPACKET connection (one frame per datagram, like an L2CAP SDU) or a
/// TCP connection (frames back to back, the 3-byte header gives the length). Reads suspend on `IOReactor` (no
/// thread per read); `close()` shuts the socket down and wakes a pending read.
public final class SocketFrameChannel: FrameChannel {
    let socket: ConnectedSocket
    public var peer: String { socket.peer }

    public init(_ socket: ConnectedSocket) { self.socket = socket }

    public func receive() async throws -> [UInt8] {
        let limit = Frame.headerSize + Frame.maxPayload
        do {
            switch socket.kind {
            case .seqpacket:
                let datagram = try await socket.receive(upTo: limit + 1)
                guard datagram.count <= limit else {
                    throw ProtocolError(.badFrame, "datagram larger than the frame limit")
                }
                return datagram
            case .stream:
                let header = try await socket.receive(exactly: Frame.headerSize)
                let total = try Frame.totalLength(header: header)
                return header + (try await socket.receive(exactly: total - Frame.headerSize))
            }
        } catch let e as SocketError {
            _ = e
            throw ChannelClosed()
        }
    }

    public func send(_ frame: [UInt8]) async throws {
        do { try await socket.send(frame) } catch { throw ChannelClosed() }
    }

    public func close() { socket.close() }

    /// Connects to a lock's Unix seqpacket development transport.
    public static func connect(unix path: String) throws(SocketError) -> SocketFrameChannel {
        SocketFrameChannel(try ConnectedSocket.connect(unix: path, kind: .seqpacket))
    }

    /// Connects to a lock's TCP development transport.
    public static func connect(tcpHost host: String, port: Int) throws(SocketError) -> SocketFrameChannel {
        SocketFrameChannel(try ConnectedSocket.connect(tcpHost: host, port: port))
    }
}
