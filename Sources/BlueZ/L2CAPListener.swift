import CBluetooth

#if canImport(Glibc)
import Glibc
#endif

/// A listening LE L2CAP connection-oriented-channel socket (credit-based flow control), the door's BLE endpoint.
///
/// Bound with `l2_bdaddr_type = BDADDR_LE_PUBLIC`, which makes the kernel use LE flow-control mode; the PSM goes in
/// little-endian (`htobs`) and is advertised in the Warden service data so the phone knows where to connect.
public final class L2CAPListener: Sendable {
    /// The PSM actually bound (the kernel picks one from the LE dynamic range 0x80-0xFF when 0 was asked for).
    public let psm: UInt16
    public let localAddress: BluetoothAddress
    private let socket: BluetoothSocket

    private struct Accepted: Sendable {
        var fd: Int32
        var peer: BluetoothAddress
        var kind: BluetoothAddress.Kind
    }

    /// - Parameters:
    ///   - psm: LE PSM, 0x80-0xFF for an unprivileged process; 0 lets the kernel choose.
    ///   - adapter: the adapter's address, or `.any` for all adapters.
    ///   - security: link security the kernel enforces before delivering a channel (see `BluetoothSecurity`).
    ///   - receiveMTU: largest SDU to accept; nil keeps the kernel default (672). Must cover the largest frame.
    public init(
        psm: UInt16 = 0,
        adapter: BluetoothAddress = .any,
        security: BluetoothSecurity = .low,
        receiveMTU: UInt16? = nil,
        backlog: Int32 = 8
    ) throws(BluetoothError) {
        let psmText = "0x" + String(psm, radix: 16)
        guard psm <= 0xFF else {
            throw BluetoothError(
                code: .invalidArgument,
                message: "L2CAP PSM \(psmText) is outside the LE range: use 0x80-0xFF (or 0 to let the kernel choose)"
            )
        }
        if let receiveMTU, receiveMTU < 23 {
            throw BluetoothError(
                code: .invalidArgument,
                message: "an LE L2CAP receive MTU must be at least 23 bytes, not \(receiveMTU)"
            )
        }
        let fd = Glibc.socket(
            warden_bt_af_bluetooth(),
            Int32(SOCK_SEQPACKET.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue),
            warden_bt_proto_l2cap()
        )
        guard fd >= 0 else {
            throw BluetoothError.fromErrno(errno, "socket(AF_BLUETOOTH, SOCK_SEQPACKET, BTPROTO_L2CAP)")
        }
        let socket = try BluetoothSocket(fd: fd, "opening an L2CAP socket")
        let what = "listening on L2CAP PSM \(psmText) on \(adapter)"

        var address = sockaddr_l2()
        address.l2_family = sa_family_t(warden_bt_af_bluetooth())
        address.l2_psm = warden_bt_htobs(psm)
        address.l2_bdaddr = adapter.bdaddr
        address.l2_bdaddr_type = warden_bt_bdaddr_le_public()
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_l2>.size))
            }
        }
        if bound < 0 { throw BluetoothError.fromErrno(errno, what) }

        // After bind: the LE address type has put the channel in LE flow-control mode, where these apply.
        try socket.setOption(
            warden_bt_security_opt(),
            bt_security(level: security.level, key_size: 0),
            "\(what): setting BT_SECURITY"
        )
        if let receiveMTU {
            try socket.setOption(warden_bt_rcvmtu_opt(), receiveMTU, "\(what): setting BT_RCVMTU \(receiveMTU)")
        }
        if listen(fd, backlog) < 0 { throw BluetoothError.fromErrno(errno, what) }

        var boundAddress = sockaddr_l2()
        var length = socklen_t(MemoryLayout<sockaddr_l2>.size)
        let named = withUnsafeMutablePointer(to: &boundAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if named < 0 { throw BluetoothError.fromErrno(errno, "\(what): reading the bound PSM") }
        self.psm = warden_bt_btohs(boundAddress.l2_psm)
        self.localAddress = BluetoothAddress(boundAddress.l2_bdaddr)
        self.socket = socket
    }

    /// Waits for the next phone to open a channel. Cancelling the waiting task closes the listener.
    public func accept() async throws(BluetoothError) -> L2CAPChannel {
        let what = "accepting on L2CAP PSM 0x\(String(psm, radix: 16))"
        let accepted = try await socket.perform(Int16(POLLIN), what) { fd -> Result<Accepted, BluetoothError>? in
            var peer = sockaddr_l2()
            var length = socklen_t(MemoryLayout<sockaddr_l2>.size)
            let channel = withUnsafeMutablePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.accept(fd, $0, &length)
                }
            }
            if channel >= 0 {
                // recv/send use MSG_DONTWAIT, so only close-on-exec is needed (accept4 is not exported to Swift).
                _ = fcntl(channel, F_SETFD, FD_CLOEXEC)
                return .success(
                    Accepted(
                        fd: channel,
                        peer: BluetoothAddress(peer.l2_bdaddr),
                        kind: BluetoothAddress.Kind(peer.l2_bdaddr_type)
                    )
                )
            }
            let err = errno
            // ECONNABORTED: the phone gave up between the wake-up and accept; keep listening.
            if err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED { return nil }
            return .failure(BluetoothError.fromErrno(err, what))
        }
        return try L2CAPChannel(fd: accepted.fd, peer: accepted.peer, peerAddressType: accepted.kind)
    }

    /// Stops listening; a pending `accept` fails with `.closed`. Channels already accepted stay open.
    public func close() {
        socket.close()
    }
}
