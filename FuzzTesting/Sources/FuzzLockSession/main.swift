import CFuzzerDriver
import Crypto
import WardenProtocol

let authority = P256.Signing.PrivateKey()
let device = P256.Signing.PrivateKey()
let certificate = try! LockCertificate.issue(lockID: "fuzz", deviceKey: device.publicKey, notBefore: 0, notAfter: .max, keyID: "k", authority: authority)

/// The lock's session fed a sequence of peer frames (input = [u16 length | bytes]...). Also tries the input as a
/// PRESENT after a valid HELLO, so the decrypt and body parsers are reached. Must never trap.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    var s = LockSession(certificate: certificate, deviceKey: device)
    var i = 0
    while i + 2 <= bytes.count, !s.isDone {
        let n = Int(bytes[i]) << 8 | Int(bytes[i + 1])
        let frame = Array(bytes[(i + 2)..<min(bytes.count, i + 2 + n)])
        i += 2 + n
        for a in s.receive(frame) {
            if case .evaluate = a {
                _ = s.holderProofValid(device.publicKey)
                _ = s.complete(code: .granted, unlockMillis: 1)
            }
        }
    }
    var phone = PhoneSession(lockID: "fuzz", credential: [0x61], holder: device, authority: ["k": authority.publicKey], now: 1)
    var t = LockSession(certificate: certificate, deviceKey: device)
    _ = t.receive(phone.hello())
    _ = t.receive([FrameType.present.rawValue, UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes)
    return 0
}

@_cdecl("FuzzLockSession_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzz(data, size) }
}
