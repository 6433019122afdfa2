import CBluetooth

/// The link security the kernel enforces before an L2CAP channel is delivered (`BT_SECURITY`).
///
/// Warden's key-presentation protocol authenticates and encrypts end to end, so `.low` (no pairing) is the default:
/// phones need not pair with every door. Higher levels make the kernel require encryption or authenticated pairing
/// first, which needs an agent (bluetoothd) to complete pairing.
public enum BluetoothSecurity: Sendable, Equatable {
    /// No encryption required.
    case low
    /// Encrypted link, unauthenticated pairing (Just Works).
    case medium
    /// Encrypted link with authenticated (MITM-protected) pairing.
    case high
    /// LE Secure Connections only.
    case fips

    var level: UInt8 {
        switch self {
        case .low: return UInt8(BT_SECURITY_LOW)
        case .medium: return UInt8(BT_SECURITY_MEDIUM)
        case .high: return UInt8(BT_SECURITY_HIGH)
        case .fips: return UInt8(BT_SECURITY_FIPS)
        }
    }
}
