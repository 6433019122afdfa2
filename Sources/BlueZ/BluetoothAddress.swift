import CBluetooth

/// A 48-bit Bluetooth device address. Octets are kept in display order (`AA:BB:CC:DD:EE:FF`, most significant
/// first); BlueZ's `bdaddr_t` stores them reversed, so conversion happens only here.
public struct BluetoothAddress: Sendable, Hashable, CustomStringConvertible {
    /// How the peer's address is to be interpreted; a phone normally uses a resolvable random (private) address, so
    /// never treat the address as the phone's identity: the credential is.
    public enum Kind: Sendable, Hashable {
        case bredr, lePublic, leRandom

        init(_ raw: UInt8) {
            switch raw {
            case warden_bt_bdaddr_le_public(): self = .lePublic
            case warden_bt_bdaddr_le_random(): self = .leRandom
            default: self = .bredr
            }
        }
    }

    public var octets: [UInt8]

    /// `00:00:00:00:00:00`: bind on every adapter.
    public static let any = BluetoothAddress(validOctets: [0, 0, 0, 0, 0, 0])

    private init(validOctets: [UInt8]) { self.octets = validOctets }

    /// Parses `AA:BB:CC:DD:EE:FF` (case-insensitive); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.octets = bytes
    }

    init(_ address: bdaddr_t) {
        let b = address.b
        self.octets = [b.5, b.4, b.3, b.2, b.1, b.0]
    }

    var bdaddr: bdaddr_t {
        bdaddr_t(b: (octets[5], octets[4], octets[3], octets[2], octets[1], octets[0]))
    }

    public var description: String {
        octets.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
