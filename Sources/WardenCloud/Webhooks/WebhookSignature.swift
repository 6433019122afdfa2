import Crypto
import Foundation

/// How a webhook receiver knows a delivery is ours and fresh: `Warden-Signature: t=<unix seconds>,v1=<hex>` where
/// the hex is HMAC-SHA256 with the webhook's secret over `"<t>.<body>"`. A receiver checks the MAC in constant time,
/// refuses a `t` more than `tolerance` away from its clock (a replayed old delivery), and drops a `Warden-Delivery`
/// id it has seen (a replay inside the window).
public enum WebhookSignature {
    public static let header = "Warden-Signature"

    public static func sign(body: [UInt8], secret: String, at time: Date) -> String {
        let t = Int64(time.timeIntervalSince1970)
        return "t=\(t),v1=\(hex(mac(body: body, secret: secret, t: t)))"
    }

    public enum Failure: Error, Equatable, Sendable {
        case malformed, stale, mismatch
    }

    /// Checks a received signature; throws which check failed.
    public static func verify(
        _ signature: String,
        body: [UInt8],
        secret: String,
        now: Date,
        tolerance: TimeInterval = 300
    ) throws(Failure) {
        var t: Int64?
        var v1: [UInt8]?
        for part in signature.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw .malformed }
            if kv[0] == "t" { t = Int64(kv[1]) }
            if kv[0] == "v1" { v1 = unhex(kv[1]) }
        }
        guard let t, let v1 else { throw .malformed }
        guard abs(now.timeIntervalSince1970 - Double(t)) <= tolerance else { throw .stale }
        let expected = mac(body: body, secret: secret, t: t)
        guard expected.count == v1.count, zip(expected, v1).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw .mismatch
        }
    }

    static func mac(body: [UInt8], secret: String, t: Int64) -> [UInt8] {
        var h = HMAC<SHA256>(key: SymmetricKey(data: Array(secret.utf8)))
        h.update(data: Array("\(t).".utf8))
        h.update(data: body)
        return Array(h.finalize())
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func unhex(_ s: Substring) -> [UInt8]? {
        guard s.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        return out
    }
}
