import ArgumentParser
import Crypto
import Foundation
import WardenAuthority
import WardenCore
import WardenProtocol
import WardenStore
import WardenWire

/// Stand-ins for the cloud while it does not exist yet, and developer harnesses.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Developer tools: an authority key, credentials and access-list updates, journal stress.",
        subcommands: [
            AuthorityKeygen.self, DeviceKeygen.self, LockCert.self, Issue.self, AccessUpdate.self, Command.self,
            JournalStress.self,
        ]
    )

    struct AuthorityOptions: ParsableArguments {
        @Option(help: "Authority private key file.") var authority: String
        @Option(help: "Authority key id (kid).") var kid: String
        func issuer() throws -> CredentialIssuer {
            CredentialIssuer(keyID: kid, privateKey: try KeyFiles.readPrivate(authority))
        }
    }

    /// Where a signed token goes: a file (for a script to hand on) or stdout.
    struct TokenOutput: ParsableArguments {
        @Option(help: "Write here instead of stdout.") var out: String?

        func emit(_ token: String) throws {
            if let out {
                try (token + "\n").write(toFile: out, atomically: true, encoding: .utf8)
            } else {
                print(token)
            }
        }
    }

    struct AuthorityKeygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "authority-keygen",
            abstract: "Create an org authority key pair: FILE (0600) and FILE.pub for boards."
        )
        @Option(help: "Private key file to write.") var out: String

        func run() throws {
            print(try KeyFiles.generate(out: out, what: "authority key"))
        }
    }

    struct DeviceKeygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "device-keygen",
            abstract: "Create a lock's device identity key: FILE (0600) and FILE.pub."
        )
        @Option(help: "Private key file to write.") var out: String

        func run() throws {
            print(try KeyFiles.generate(out: out, what: "device key"))
        }
    }

    struct LockCert: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lock-cert",
            abstract: "Certify a lock's device key for its lock id (base64 file for identity.lock_certificate)."
        )
        @OptionGroup var auth: AuthorityOptions
        @Option(help: "Lock id.") var lockID: String
        @Option(help: "Device public key file.") var deviceKey: String
        @Option(help: "Validity in days.") var days = 365
        @Option(help: "Write here.") var out: String

        func run() throws {
            let now = UInt64(Date().timeIntervalSince1970)
            let cert = try LockCertificate.issue(
                lockID: lockID,
                deviceKey: try KeyFiles.readPublic(deviceKey),
                notBefore: now - 3600,
                notAfter: now + UInt64(days) * 86_400,
                keyID: auth.kid,
                authority: try KeyFiles.readPrivate(auth.authority)
            )
            try (Data(cert.bytes).base64EncodedString() + "\n").write(toFile: out, atomically: true, encoding: .utf8)
            print("lock certificate for \(lockID): \(out) (\(cert.bytes.count) bytes)")
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a credential (JWS) binding a holder key to a user and doors."
        )
        @OptionGroup var auth: AuthorityOptions
        @Option(help: "Holder public key file.") var holder: String
        @Option(help: "User id.") var user: String
        @Option(help: "Credential id (jti).") var id: String
        @Option(help: "Door id (repeatable).") var door: [String] = []
        @Option(help: "Door group (repeatable).") var group: [String] = []
        @Option(help: "Valid from, seconds relative to now (negative = in the past).") var notBefore: Int = -60
        @Option(help: "Valid until, seconds relative to now.") var expiresIn: Int = 86_400 * 30
        @Option(help: "Schedule window 'mon,tue,wed 08:00-18:00' (repeatable; none = always).") var window: [String] =
            []
        @Flag(help: "Extended unlock time (accessibility).") var extended = false
        @OptionGroup var output: TokenOutput

        func run() async throws {
            guard !door.isEmpty || !group.isEmpty else { throw ValidationError("give at least one --door or --group") }
            let now = Date()
            let claims = CredentialClaims(
                issuer: "org:dev",
                userID: user,
                credentialID: id,
                issuedAt: now,
                notBefore: now.addingTimeInterval(TimeInterval(notBefore)),
                expires: now.addingTimeInterval(TimeInterval(expiresIn)),
                holderKey: try KeyFiles.readPublic(holder),
                doors: door,
                groups: group,
                schedule: WeeklySchedule(windows: try window.map(Self.parseWindow)),
                extendedTime: extended
            )
            try output.emit(try await auth.issuer().sign(claims))
        }

        static func parseWindow(_ text: String) throws -> ScheduleWindow {
            let parts = text.split(separator: " ")
            guard parts.count == 2 else { throw ValidationError("window '\(text)': write 'mon,tue 08:00-18:00'") }
            let days = try parts[0].split(separator: ",").map { d in
                guard let w = Weekday(rawValue: String(d)) else {
                    throw ValidationError("window '\(text)': unknown day '\(d)'")
                }
                return w
            }
            let times = parts[1].split(separator: "-")
            guard times.count == 2 else { throw ValidationError("window '\(text)': times are HH:MM-HH:MM") }
            return ScheduleWindow(
                days: days,
                start: try LocalTime(parsing: String(times[0])),
                end: try LocalTime(parsing: String(times[1]))
            )
        }
    }

    struct AccessUpdate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "access-update",
            abstract: "Sign an access-list update (delta or snapshot)."
        )
        @OptionGroup var auth: AuthorityOptions
        @Option(help: "Door or group the update is for (repeatable).") var door: [String]
        @Option(help: "New version.") var version: Int64
        @Option(help: "Version this delta applies to.") var base: Int64?
        @Flag(help: "A full snapshot instead of a delta.") var snapshot = false
        @Option(help: "credential-id:user to list as active (repeatable).") var grant: [String] = []
        @Option(help: "credential-id:user to revoke (repeatable).") var revoke: [String] = []
        @OptionGroup var output: TokenOutput

        func run() async throws {
            guard snapshot || base != nil else {
                throw ValidationError("a delta needs --base VERSION (or use --snapshot)")
            }
            func entries(_ list: [String]) throws -> [AccessListUpdate.Entry] {
                try list.map { s in
                    let p = s.split(separator: ":", maxSplits: 1)
                    guard p.count == 2 else { throw ValidationError("'\(s)': write credential-id:user") }
                    return .init(id: String(p[0]), user: String(p[1]))
                }
            }
            let u = AccessListUpdate(
                issuer: "org:dev",
                doors: door,
                version: version,
                base: snapshot ? nil : base,
                snapshot: snapshot,
                grant: try entries(grant),
                revoke: try entries(revoke),
                issuedAt: Date()
            )
            try output.emit(try await auth.issuer().sign(u))
        }
    }

    struct Command: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a remote command for one board (unlock, lockdown, sync, update, support_bundle)."
        )
        @OptionGroup var auth: AuthorityOptions
        @Option(help: "The board's lock id.") var lock: String
        @Option(help: "unlock, lockdown, sync, update or support_bundle.") var kind: String
        @Option(help: "Unlock length in milliseconds (unlock).") var ms: Int64?
        @Option(help: "on or off (lockdown).") var on: String?
        @Option(help: "The warden-board version to install (update).") var version: String?
        @Option(help: "Where to upload the bundle (support_bundle).") var uploadURL: String?
        @Option(help: "The upload's one-time token (support_bundle).") var uploadToken: String?
        @Option(help: "Seconds it stays valid.") var lifetime: Int64 = 300
        @OptionGroup var output: TokenOutput

        func run() async throws {
            guard let k = SignedCommand.Kind(rawValue: kind) else {
                throw ValidationError(
                    "--kind must be one of \(SignedCommand.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            let lockdownOn: Bool?
            switch on {
            case nil: lockdownOn = nil
            case "on": lockdownOn = true
            case "off": lockdownOn = false
            case let other?: throw ValidationError("--on must be 'on' or 'off', not '\(other)'")
            }
            let now = Date()
            let c = SignedCommand(
                issuer: "org:dev",
                device: lock,
                command: k,
                millis: ms,
                on: lockdownOn,
                version: version,
                uploadURL: uploadURL,
                uploadToken: uploadToken,
                nonce: UUID().uuidString,
                issuedAt: now,
                expires: now.addingTimeInterval(Double(lifetime))
            )
            try output.emit(try await auth.issuer().sign(c))
        }
    }

    /// The crash harness's victim: decides as fast as it can and journals every decision; prints each durable
    /// sequence number so the harness, after SIGKILL, can check nothing reported durable was lost.
    struct JournalStress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "journal-stress",
            abstract: "Decide and journal in a loop until killed (crash tests)."
        )
        @Option(help: "Database file.") var db: String

        func run() async throws {
            let database = try WardenDatabase(path: db)
            let journal = try AuditJournal(database: database) { seq in Stdout.line("durable \(seq)") }
            Stdout.line("start \(journal.lastSeq)")
            let runner = Task { await journal.run() }
            let auth = CredentialIssuer(keyID: "k", privateKey: P256.Signing.PrivateKey())
            let token = try await auth.sign(
                CredentialClaims(
                    issuer: "dev",
                    userID: "u",
                    credentialID: "c",
                    issuedAt: Date(),
                    notBefore: Date().addingTimeInterval(-60),
                    expires: Date().addingTimeInterval(3600),
                    holderKey: P256.Signing.PrivateKey().publicKey,
                    doors: ["front"]
                )
            )
            let cred = try CredentialVerifier(authority: auth.publicKeySet).verify(token)
            let policy = AccessPolicy(
                scope: DoorScope(doorID: "front"),
                calendar: try SiteCalendar(timeZoneIdentifier: "UTC")
            )
            var i = 0
            while true {
                let d = policy.decide(cred, listStatus: i % 7 == 0 ? .revoked : .unlisted, lockdown: false, at: Date())
                journal.append(
                    AuditEvent(
                        d.isGranted ? .accessGranted : .accessDenied,
                        door: "front",
                        credentialID: "c",
                        userID: "u",
                        reason: d.denyReason?.rawValue,
                        detail: "i=\(i)"
                    ),
                    timeMillis: Int64(Date().timeIntervalSince1970 * 1000)
                )
                i += 1
                if i % 50 == 0 { try await Task.sleep(for: .milliseconds(1)) }
            }
            _ = runner
        }
    }
}
