import Crypto

/// The lock's BLE advertisement (docs/protocol.md section 4): the Warden service UUID in the advertising data, and
/// in the scan response the protocol version, the L2CAP PSM and an 8-byte lock tag (SHA-256 of the lock id), so a
/// phone finds the doors it holds credentials for without the lock id being broadcast.
public struct Advertisement: Sendable, Equatable {
    /// 3f1d0001-8a5c-4c44-9b7e-57415244454e, in BLE (little-endian) byte order.
    public static let serviceUUIDLittleEndian: [UInt8] = [
        0x4e, 0x45, 0x44, 0x52, 0x41, 0x57, 0x7e, 0x9b, 0x44, 0x4c, 0x5c, 0x8a, 0x01, 0x00, 0x1d, 0x3f,
    ]
    public static let serviceUUIDString = "3f1d0001-8a5c-4c44-9b7e-57415244454e"
    /// The PSM a lock listens on unless configured otherwise, and the one a phone connects to when it sees the service
    /// UUID but no Warden service data (a lock advertising through a bluetoothd older than BlueZ 5.80, which cannot
    /// put service data in the scan response; docs/protocol.md section 4).
    public static let defaultPSM: UInt16 = 0x0081

    public var version: UInt8
    public var psm: UInt16
    public var lockTag: [UInt8]

    public init(lockID: String, psm: UInt16, version: UInt8 = HandshakeCrypto.version) {
        self.version = version
        self.psm = psm
        self.lockTag = Self.tag(lockID: lockID)
    }

    public static func tag(lockID: String) -> [UInt8] { Array(SHA256.hash(data: Array(lockID.utf8)).prefix(8)) }

    /// Flags (LE General Discoverable, no BR/EDR) + Complete List of 128-bit Service UUIDs: 21 bytes.
    public var advertisingData: [UInt8] { [0x02, 0x01, 0x06, 0x11, 0x07] + Self.serviceUUIDLittleEndian }

    /// Service Data - 128-bit UUID: UUID | version | PSM (little-endian) | lock tag: 29 bytes.
    public var serviceData: [UInt8] { [version, UInt8(psm & 0xFF), UInt8(psm >> 8)] + lockTag }
    public var scanResponse: [UInt8] { [0x1c, 0x21] + Self.serviceUUIDLittleEndian + serviceData }

    /// What a phone does with a scan response: find Warden service data among the AD structures.
    public static func parse(scanResponse data: [UInt8]) -> Advertisement? {
        var i = 0
        while i < data.count {
            let len = Int(data[i])
            guard len > 0, i + 1 + len <= data.count else { return nil }
            let type = data[i + 1]
            let body = Array(data[(i + 2)..<(i + 1 + len)])
            if type == 0x21, body.count >= 27, Array(body[0..<16]) == serviceUUIDLittleEndian {
                var a = Advertisement(lockID: "", psm: UInt16(body[17]) | UInt16(body[18]) << 8, version: body[16])
                a.lockTag = Array(body[19..<27])
                return a
            }
            i += 1 + len
        }
        return nil
    }

    /// What a phone makes of one device's advertising data and scan response (either may be empty): nil when it is
    /// not a Warden lock; the advertised version, PSM and tag when the service data is there; otherwise, for a lock
    /// whose bluetoothd cannot send service data (BlueZ < 5.80), version 1 on `defaultPSM` with no tag (the phone
    /// then recognises the lock by its certificate). AD structures are read by type, in any order.
    public static func discover(advertisingData: [UInt8], scanResponse: [UInt8]) -> Advertisement? {
        if let a = parse(scanResponse: scanResponse) ?? parse(scanResponse: advertisingData) { return a }
        guard let structures = adStructures(advertisingData + scanResponse) else { return nil }
        let listsService = structures.contains { type, body in
            (type == 0x06 || type == 0x07)
                && stride(from: 0, to: body.count - 15, by: 16).contains {
                    Array(body[$0..<($0 + 16)]) == serviceUUIDLittleEndian
                }
        }
        guard listsService else { return nil }
        var a = Advertisement(lockID: "", psm: defaultPSM, version: HandshakeCrypto.version)
        a.lockTag = []
        return a
    }

    /// The (type, body) AD structures of advertising data; nil when a length runs past the end.
    static func adStructures(_ data: [UInt8]) -> [(UInt8, [UInt8])]? {
        var out: [(UInt8, [UInt8])] = []
        var i = 0
        while i < data.count {
            let len = Int(data[i])
            if len == 0 { break }  // the rest is padding
            guard i + 1 + len <= data.count else { return nil }
            out.append((data[i + 1], Array(data[(i + 2)..<(i + 1 + len)])))
            i += 1 + len
        }
        return out
    }
}
