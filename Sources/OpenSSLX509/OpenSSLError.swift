import COpenSSL

/// What went wrong reading a certificate or writing a request, with OpenSSL's own reason when it gave one.
public struct OpenSSLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    /// `what` plus the reasons OpenSSL queued on this thread (the queue is emptied, so a later error is not blamed
    /// on this one).
    init(_ what: String) {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(MemoryBIO.string(buffer))
        }
        description = reasons.isEmpty ? what : "\(what) (\(reasons.joined(separator: "; ")))"
    }
}
