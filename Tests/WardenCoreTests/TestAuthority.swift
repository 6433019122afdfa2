import Crypto
import Foundation
import WardenAuthority
import WardenCore

/// An org authority and holders for tests: real keys, real signatures.
struct TestAuthority {
    let issuer: CredentialIssuer
    let holder = P256.Signing.PrivateKey()

    init(kid: String = "auth-2026") {
        issuer = CredentialIssuer(keyID: kid, privateKey: P256.Signing.PrivateKey())
    }

    var verifier: CredentialVerifier { CredentialVerifier(authority: issuer.publicKeySet) }

    static let t0 = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21T14:13:20Z, a Monday

    func token(
        id: String = "cred-1",
        user: String = "alice",
        doors: [String] = ["front"],
        groups: [String] = [],
        notBefore: Date = t0.addingTimeInterval(-86_400),
        expires: Date = t0.addingTimeInterval(86_400 * 30),
        schedule: WeeklySchedule = .always,
        extended: Bool = false,
        holder: P256.Signing.PublicKey? = nil
    ) async throws -> String {
        try await issuer.sign(
            CredentialClaims(
                issuer: "org:acme",
                userID: user,
                credentialID: id,
                issuedAt: notBefore,
                notBefore: notBefore,
                expires: expires,
                holderKey: holder ?? self.holder.publicKey,
                doors: doors,
                groups: groups,
                schedule: schedule,
                extendedTime: extended
            )
        )
    }
}

func window(_ days: [Weekday], _ start: String, _ end: String) throws -> ScheduleWindow {
    ScheduleWindow(days: days, start: try LocalTime(parsing: start), end: try LocalTime(parsing: end))
}

func utc(_ iso: String) -> Date {
    let f = ISO8601DateFormatter()
    return f.date(from: iso)!
}
