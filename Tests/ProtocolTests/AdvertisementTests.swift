import Testing
import WardenProtocol

/// The example in docs/protocol.md section 4, byte for byte.
@Suite struct AdvertisementTests {
    func hex(_ b: [UInt8]) -> String { Hex.encode(b) }

    @Test func matchesTheDocumentedExample() {
        let a = Advertisement(lockID: "lock-7f3a91", psm: 0x0081)
        #expect(hex(a.lockTag) == "1a2eb4295ee16179")
        #expect(hex(a.advertisingData) == "02010611074e45445241577e9b444c5c8a01001d3f")
        #expect(hex(a.scanResponse) == "1c214e45445241577e9b444c5c8a01001d3f0181001a2eb4295ee16179")
        #expect(a.advertisingData.count <= 31 && a.scanResponse.count <= 31)
    }

    @Test func phoneParsesItBackAndIgnoresOtherData() {
        let a = Advertisement(lockID: "lock-7f3a91", psm: 0x00C3)
        let other: [UInt8] = [0x03, 0x03, 0x0f, 0x18]  // a 16-bit UUID list first
        let parsed = Advertisement.parse(scanResponse: other + a.scanResponse)
        #expect(parsed?.psm == 0x00C3)
        #expect(parsed?.lockTag == Advertisement.tag(lockID: "lock-7f3a91"))
        #expect(Advertisement.parse(scanResponse: [0x05, 0x21, 0x00]) == nil, "truncated structure")
        #expect(Advertisement.parse(scanResponse: []) == nil)
    }

    @Test func phoneDiscoversLocksOnBothAdvertisingPaths() throws {
        let a = Advertisement(lockID: "lock-7f3a91", psm: 0x00C3)
        // raw HCI: flags + UUID list, service data in the scan response
        let raw = try #require(Advertisement.discover(advertisingData: a.advertisingData, scanResponse: a.scanResponse))
        #expect(raw.psm == 0x00C3 && raw.version == 1 && raw.lockTag == Advertisement.tag(lockID: "lock-7f3a91"))
        // bluetoothd 5.66, as scanned in the VM (scripts/vm/ble-scenarios.sh j): UUID list first, flags last, no scan response
        let bluez566 = Hex.decode("11074e45445241577e9b444c5c8a01001d3f020106")
        let fallback = try #require(Advertisement.discover(advertisingData: bluez566, scanResponse: []))
        #expect(fallback.psm == Advertisement.defaultPSM && fallback.psm == 0x0081)
        #expect(fallback.version == 1 && fallback.lockTag.isEmpty)
        // a 128-bit UUID list with another service before ours
        let two = [0x21, 0x07] + [UInt8](repeating: 0xAB, count: 16) + Advertisement.serviceUUIDLittleEndian
        #expect(Advertisement.discover(advertisingData: two, scanResponse: [])?.psm == 0x0081)
        // not a Warden lock: another 128-bit service, a 16-bit list, garbage
        #expect(
            Advertisement.discover(
                advertisingData: [0x11, 0x07] + [UInt8](repeating: 0xAB, count: 16),
                scanResponse: []
            ) == nil
        )
        #expect(Advertisement.discover(advertisingData: [0x03, 0x03, 0x0f, 0x18], scanResponse: []) == nil)
        #expect(
            Advertisement.discover(advertisingData: [0x11, 0x07, 0x4e], scanResponse: []) == nil,
            "truncated structure"
        )
        #expect(Advertisement.discover(advertisingData: [], scanResponse: []) == nil)
    }
}
