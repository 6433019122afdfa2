import CBluetooth

#if canImport(Glibc)
import Glibc
#endif

/// One accepted LE L2CAP connection-oriented channel: a phone presenting a key. SOCK_SEQPACKET keeps SDU boundaries,
/// so one `send` is one protocol frame and one `receive` returns exactly one frame.
public final class L2CAPChannel: Sendable {
    public let peer: BluetoothAddress
    public let peerAddressType: BluetoothAddress.Kind
    /// Largest SDU we accept (BT_RCVMTU); the kernel refuses bigger ones from the peer.
    public let receiveMTU: Int
    /// Largest SDU the peer accepts (BT_SNDMTU); `send` refuses bigger frames.
    public let sendMTU: Int
    private let socket: BluetoothSocket

    init(fd: Int32, peer: BluetoothAddress, peerAddressType: BluetoothAddress.Kind) throws(BluetoothError) {
        let socket = try BluetoothSocket(fd: fd, "accepting a channel from \(peer)")
        self.socket = socket
        self.peer = peer
        self.peerAddressType = peerAddressType
        // Kernels with LE CoC (3.14+) answer both; the fallbacks are the largest SDU and "no local check".
        self.receiveMTU = Int(socket.uint16Option(warden_bt_rcvmtu_opt()) ?? UInt16.max)
        self.sendMTU = Int(socket.uint16Option(warden_bt_sndmtu_opt()) ?? UInt16.max)
    }

    /// Receives one whole SDU. Throws `.disconnected` when the peer has gone.
    public func receive() async throws(BluetoothError) -> [UInt8] {
        let capacity = receiveMTU
        let what = "receiving from \(peer)"
        return try await socket.perform(Int16(POLLIN), what) { fd -> Result<[UInt8], BluetoothError>? in
            var received = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                received = recv(fd, buffer.baseAddress, capacity, Int32(MSG_DONTWAIT))
                count = max(0, received)
            }
            if received > 0 { return .success(bytes) }
            if received == 0 {
                return .failure(BluetoothError(code: .disconnected, message: "\(what): the peer closed the channel"))
            }
            let err = errno
            if err == EAGAIN || err == EWOULDBLOCK || err == EINTR { return nil }
            return .failure(BluetoothError.fromErrno(err, what))
        }
    }

    /// Sends one SDU, waiting for credits from the peer if needed.
    public func send(_ sdu: [UInt8]) async throws(BluetoothError) {
        let what = "sending \(sdu.count) bytes to \(peer)"
        guard sdu.count <= sendMTU else {
            throw BluetoothError(
                code: .messageTooLarge,
                message: "\(what): the peer accepts at most \(sendMTU) bytes per frame; split the message"
            )
        }
        let _: Int = try await socket.perform(Int16(POLLOUT), what) { fd -> Result<Int, BluetoothError>? in
            let sent = sdu.withUnsafeBytes { bytes in
                Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if sent >= 0 { return .success(sent) }
            let err = errno
            if err == EAGAIN || err == EWOULDBLOCK || err == EINTR { return nil }
            return .failure(BluetoothError.fromErrno(err, what))
        }
    }

    /// Disconnects the channel now and fails pending `receive`/`send` with `.closed`.
    public func close() {
        socket.close()
    }
}
