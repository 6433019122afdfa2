import Crypto
import Foundation
import Testing
import WardenCore
import WardenWire

@Suite struct AccessPolicyTests {
    let auth = TestAuthority()
    let t0 = TestAuthority.t0

    func policy(holidays: Set<String> = [], requireListed: Bool = false) throws -> AccessPolicy {
        AccessPolicy(
            scope: DoorScope(doorID: "front", groups: ["lobby"]),
            calendar: try SiteCalendar(timeZoneIdentifier: "Europe/Berlin", holidays: holidays),
            requireListed: requireListed
        )
    }

    func decide(
        _ token: String,
        policy p: AccessPolicy? = nil,
        list: AccessListStatus = .unlisted,
        lockdown: Bool = false,
        at time: Date? = TestAuthority.t0,
        holder: P256.Signing.PrivateKey? = nil
    ) throws -> AccessDecision {
        let nonce = (0..<32).map { UInt8($0) }
        let signer = holder ?? auth.holder
        return try (p ?? policy()).evaluate(
            token: token,
            verifier: auth.verifier,
            holderProofValid: { key, cred in
                // The holder's signature over a session transcript, as LockSession checks it.
                let transcript = nonce + Array(cred.credentialID.utf8)
                let signature = try! signer.signature(for: transcript)
                return key.isValidSignature(signature, for: transcript)
            },
            listStatus: { _ in list },
            lockdown: lockdown,
            at: time
        )
    }

    @Test func validCredentialIsGranted() async throws {
        let d = try decide(try await auth.token(extended: true))
        #expect(d == .granted(.init(credentialID: "cred-1", userID: "alice", extendedTime: true)))
    }

    @Test func groupScopeGrants() async throws {
        #expect(try decide(try await auth.token(doors: [], groups: ["lobby"])).isGranted)
    }

    @Test func denials() async throws {
        let unsigned = TestAuthority(kid: "auth-2026")
        let cases: [(String, DenyReason)] = [
            (try await auth.token(expires: t0.addingTimeInterval(-1)), .expired),
            (try await auth.token(expires: t0), .expired),
            (try await auth.token(notBefore: t0.addingTimeInterval(60)), .notYetValid),
            (try await auth.token(doors: ["back"]), .wrongDoor),
            (try await auth.token(doors: [], groups: ["garage"]), .wrongDoor),
            (try await unsigned.token(), .badSignature),
            (try await TestAuthority(kid: "rogue").token(), .unknownKeyID),
            // Monday 14:13 local+2: a weekend-only credential
            (
                try await auth.token(schedule: WeeklySchedule(windows: [try window([.sat, .sun], "00:00", "24:00")])),
                .outsideSchedule
            ),
        ]
        for (token, reason) in cases {
            let d = try decide(token)
            #expect(d.denyReason == reason, "expected \(reason), got \(d)")
        }
    }

    @Test func revokedLockdownAndUnknownTime() async throws {
        let token = try await auth.token()
        #expect(try decide(token, list: .revoked).denyReason == .revoked)
        #expect(try decide(token, list: .active).isGranted)
        #expect(try decide(token, lockdown: true).denyReason == .lockdown)
        #expect(try decide(token, at: nil).denyReason == .timeUnknown)
        #expect(try decide(token, policy: try policy(requireListed: true)).denyReason == .notListed)
        #expect(try decide(token, policy: try policy(requireListed: true), list: .active).isGranted)
    }

    @Test func stolenCredentialWithoutHolderKeyIsRefused() async throws {
        let token = try await auth.token()
        let d = try decide(token, holder: P256.Signing.PrivateKey())
        #expect(d.denyReason == .holderProofInvalid)
    }

    @Test func holidayDeniesWeekdayScheduleButHolidayWindowAdmits() async throws {
        // t0 is Monday 2026-09-21, 16:13 in Berlin.
        let weekday = WeeklySchedule(windows: [try window([.mon, .tue, .wed, .thu, .fri], "08:00", "18:00")])
        let withHoliday = WeeklySchedule(windows: weekday.windows + [try window([.holiday], "10:00", "17:00")])
        let p = try policy(holidays: ["2026-09-21"])
        #expect(try decide(try await auth.token(schedule: weekday), policy: try policy()).isGranted)
        #expect(try decide(try await auth.token(schedule: weekday), policy: p).denyReason == .holiday)
        #expect(try decide(try await auth.token(schedule: withHoliday), policy: p).isGranted)
        #expect(try decide(try await auth.token(), policy: p).isGranted, "an always-credential ignores holidays")
    }
}
