import CFuzzerDriver
import Crypto
import WardenProtocol

let authority = P256.Signing.PrivateKey()
let holder = P256.Signing.PrivateKey()

/// The phone's session fed an arbitrary LOCK_HELLO / RESULT from a hostile "lock". Must throw, never trap.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    var phone = PhoneSession(lockID: "fuzz", credential: [0x61], holder: holder, authority: ["k": authority.publicKey], now: 1)
    _ = phone.hello()
    _ = try? phone.receive(bytes)
    var p2 = PhoneSession(lockID: "fuzz", credential: [0x61], holder: holder, authority: ["k": authority.publicKey], now: 1)
    _ = p2.hello()
    _ = try? p2.receive([FrameType.lockHello.rawValue, UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes)
    return 0
}

@_cdecl("FuzzPhoneSession_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzz(data, size) }
}
