import CFuzzerDriver
import WardenProtocol

/// Frame and lock-certificate parsers on arbitrary bytes: must throw or succeed, never trap.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let f = try? Frame.parse(bytes) { precondition(f.bytes == bytes, "parse/serialise must round-trip") }
    _ = try? Frame.totalLength(header: bytes)
    _ = try? LockCertificate.parse(bytes)
    return 0
}

@_cdecl("FuzzFrame_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzz(data, size) }
}
