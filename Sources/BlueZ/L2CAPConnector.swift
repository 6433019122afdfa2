import CBluetooth
import POSIXIO

#if canImport(Glibc)
import Glibc
#endif

/// The central's side: opens an LE L2CAP connection-oriented channel to a peripheral's PSM (what
/// `wardenctl phone unlock --ble` does, like Android's `createInsecureL2capChannel` or iOS `openL2CAPChannel`).
public enum L2CAPConnector {
    /// - Parameters:
    ///   - address: the lock's LE address; `addressType` public or random as it advertises.
    ///   - psm: the PSM from the lock's advertisement.
    public static func connect(
        to address: BluetoothAddress,
        addressType: BluetoothAddress.Kind = .lePublic,
        psm: UInt16,
        receiveMTU: UInt16 = 2051
    ) async throws(BluetoothError) -> L2CAPChannel {
        let what = "connecting to \(address) PSM 0x\(String(psm, radix: 16))"
        let result: Result<Int32, BluetoothError> = await DetachedThread.run {
            let fd = Glibc.socket(
                warden_bt_af_bluetooth(),
                Int32(SOCK_SEQPACKET.rawValue | SOCK_CLOEXEC.rawValue),
                warden_bt_proto_l2cap()
            )
            guard fd >= 0 else {
                return .failure(BluetoothError.fromErrno(errno, "socket(AF_BLUETOOTH, SOCK_SEQPACKET, BTPROTO_L2CAP)"))
            }
            var local = sockaddr_l2()
            local.l2_family = sa_family_t(warden_bt_af_bluetooth())
            local.l2_bdaddr = BluetoothAddress.any.bdaddr
            local.l2_bdaddr_type = warden_bt_bdaddr_le_public()
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_l2>.size))
                }
            }
            if bound < 0 {
                let e = errno
                Glibc.close(fd)
                return .failure(BluetoothError.fromErrno(e, "\(what): bind"))
            }
            var mtu = receiveMTU
            _ = setsockopt(
                fd,
                warden_bt_sol_bluetooth(),
                warden_bt_rcvmtu_opt(),
                &mtu,
                socklen_t(MemoryLayout<UInt16>.size)
            )
            var remote = sockaddr_l2()
            remote.l2_family = sa_family_t(warden_bt_af_bluetooth())
            remote.l2_psm = warden_bt_htobs(psm)
            remote.l2_bdaddr = address.bdaddr
            remote.l2_bdaddr_type =
                addressType == .leRandom ? warden_bt_bdaddr_le_random() : warden_bt_bdaddr_le_public()
            let rc = withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_l2>.size))
                }
            }
            if rc < 0 {
                let e = errno
                Glibc.close(fd)
                return .failure(BluetoothError.fromErrno(e, what))
            }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            return .success(fd)
        }
        let fd = try result.get()
        return try L2CAPChannel(fd: fd, peer: address, peerAddressType: addressType)
    }
}
