import Foundation

/// Takes secrets out of text bound for a support bundle, in two passes: the exact text of every secret the board
/// holds (its private keys and password files, read by the bundle), wherever it appears; then anything shaped like a
/// secret (PEM private keys, values of secret-named settings, `token=`, the cloud's bearer tokens). The first pass
/// catches a secret pasted somewhere unexpected; the second catches secrets the board does not know it has.
struct SupportRedactor {
    static let mark = "<redacted>"
    private let known: [String]

    /// `knownSecrets`: whole file contents; each is matched trimmed, and a PEM's body lines one by one (a partial
    /// paste still goes). Shorter than 8 characters is not matched: it would blank ordinary words.
    init(knownSecrets: [String]) {
        var pieces: Set<String> = []
        for s in knownSecrets {
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.count >= 8 { pieces.insert(t) }
            for line in t.split(whereSeparator: \.isNewline) where !line.hasPrefix("-----") && line.count >= 16 {
                pieces.insert(String(line))
            }
        }
        known = pieces.sorted { $0.count > $1.count }  // whole secrets before their lines
    }

    func redact(_ text: String) -> String {
        var out = text
        for secret in known { out = out.replacingOccurrences(of: secret, with: Self.mark) }
        out = out.replacing(Self.pemPrivateKey) { _ in "\(Self.mark) private key" }
        out = out.split(separator: "\n", omittingEmptySubsequences: false).map(Self.redactSetting).joined(
            separator: "\n"
        )
        out = out.replacing(Self.queryParameter) { "\($0.output.1)=\(Self.mark)" }
        out = out.replacing(Self.apiToken) { _ in Self.mark }
        out = out.replacing(Self.bearer) { "\($0.output.1)\(Self.mark)" }
        out = out.replacing(Self.option) { "\($0.output.1)\(Self.mark)" }
        return out
    }

    /// `password: x`, `"token": "x"`, `client_secret=x`: the value goes, the name stays. Settings that name a file
    /// (`password_file`, `key_path`) keep their value: a path is what support needs, and the file is never copied.
    static func redactSetting(_ line: Substring) -> String {
        guard let m = line.firstMatch(of: setting) else { return String(line) }
        let name = m.output.2.lowercased()
        if name.hasSuffix("_file") || name.hasSuffix("_path") || name.hasSuffix("file") { return String(line) }
        return "\(m.output.1)\(mark)"
    }

    nonisolated(unsafe) static let pemPrivateKey =
        #/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/#
    nonisolated(unsafe) static let setting =
        #/^(\s*"?(?<name>[A-Za-z0-9_.-]*(?i:password|passwd|secret|token|private_key|api_key)[A-Za-z0-9_.-]*)"?\s*[:=]\s*)\S.*$/#
    nonisolated(unsafe) static let queryParameter = #/(?i)(token|password|secret|key)=[^\s&"']+/#
    /// The cloud's API tokens (`wdn_<id>_<secret>`) and its pasteable secrets (enrollment `wen_`, invitation `winv_`,
    /// phone `wph_`, support upload `wsb_`, webhook `whsec_`: docs/api.md).
    nonisolated(unsafe) static let apiToken = #/(?:wdn_[A-Za-z0-9]+_|wen_|winv_|wph_|wsb_|whsec_)[A-Za-z0-9_-]{20,}/#
    nonisolated(unsafe) static let option = #/(--(?:token|password|secret)[= ]+)[^\s"']+/#
    nonisolated(unsafe) static let bearer = #/(?i)(bearer\s+)[A-Za-z0-9._~+\/=-]{16,}/#
}
