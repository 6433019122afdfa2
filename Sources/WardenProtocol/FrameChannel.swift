/// A connected transport carrying whole protocol frames: a BLE L2CAP channel, a Unix seqpacket or a TCP connection.
/// The key-presentation session runs the same over all of them.
public protocol FrameChannel: Sendable {
    /// Who is on the other end, for rate limiting and audit ("ble:AA:BB:..", "tcp:127.0.0.1", "unix:uid=0").
    var peer: String { get }
    /// One whole frame (at most the protocol's size limit); throws on close or error.
    func receive() async throws -> [UInt8]
    func send(_ frame: [UInt8]) async throws
    /// Closes; a pending `receive` returns with an error.
    func close()
}
