import COpenSSL

/// OpenSSL's in-memory stream, in and out of Swift values.
enum MemoryBIO {
    /// Runs `body` with a read-only stream over `text`.
    static func reading<T>(_ text: String, _ body: (OpaquePointer) throws(OpenSSLError) -> T) throws(OpenSSLError) -> T
    {
        let bytes = Array(text.utf8)
        let result: Result<T, OpenSSLError> = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                return .failure(OpenSSLError("cannot allocate a memory stream"))
            }
            defer { BIO_free(bio) }
            do throws(OpenSSLError) { return .success(try body(bio)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Runs `write` against an empty stream and returns what it wrote.
    static func written(_ write: (OpaquePointer) -> Bool) throws(OpenSSLError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw OpenSSLError("cannot allocate a memory stream") }
        defer { BIO_free(bio) }
        guard write(bio) else { throw OpenSSLError("cannot write PEM") }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while case let n = BIO_read(bio, &chunk, Int32(chunk.count)), n > 0 { out += chunk[0..<Int(n)] }
        return String(decoding: out, as: UTF8.self)
    }

    /// The DER an OpenSSL `i2d_` function writes, measured first and then written into an array of that size.
    static func der(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) -> [UInt8] {
        let n = encode(nil)
        guard n > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(n))
        let written = out.withUnsafeMutableBufferPointer { buf -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            return encode(&p)
        }
        return written == n ? out : []
    }

    /// A NUL-terminated C buffer as a String.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
