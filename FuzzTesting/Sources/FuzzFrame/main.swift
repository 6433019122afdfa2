import WardenKey

/// Frame and lock-certificate parsers on arbitrary bytes: must throw or succeed, never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let f = try? Frame.parse(bytes) { precondition(f.bytes == bytes, "parse/serialise must round-trip") }
    _ = try? Frame.totalLength(header: bytes)
    _ = try? LockCertificate.parse(bytes)
    return 0
}
