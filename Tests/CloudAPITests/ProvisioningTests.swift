import Crypto
import Foundation
import HTTPTypes
import SwiftASN1
import Synchronization
import Testing
import WardenCloud
import WardenProtocol
import WardenTestSupport
import WardenWire
import X509

extension CloudAPISuite {
    /// `/v1/board/provision` and `/v1/board/deprovision` on real PostgreSQL: an enrollment token makes exactly one
    /// named, certified board; every refusal names its check and changes nothing; a deprovisioned board's
    /// certificate is in the revocation list, which openssl reads and verifies.
    @Suite struct ProvisioningTests {
        struct Board {
            let tls = P256.Signing.PrivateKey()
            let lock = P256.Signing.PrivateKey()

            func csr(signedBy signer: P256.Signing.PrivateKey? = nil) throws -> String {
                let made = try CertificateSigningRequest(
                    version: .v1,
                    subject: try DistinguishedName { CommonName("chosen-by-the-board") },
                    privateKey: .init(tls),
                    attributes: .init(),
                    signatureAlgorithm: .ecdsaWithSHA256
                )
                guard let signer else { return try made.serializeAsPEM().pemString }
                // The key of this board, the signature of another key: no proof of possession.
                let other = try CertificateSigningRequest(
                    version: .v1,
                    subject: made.subject,
                    privateKey: .init(signer),
                    attributes: .init(),
                    signatureAlgorithm: .ecdsaWithSHA256
                )
                return try CertificateSigningRequest(
                    version: .v1,
                    subject: made.subject,
                    publicKey: made.publicKey,
                    attributes: .init(),
                    signatureAlgorithm: .ecdsaWithSHA256,
                    signature: other.signature
                ).serializeAsPEM().pemString
            }

            func request(
                token: String,
                door: String? = nil,
                csr: String? = nil,
                proofBy: P256.Signing.PrivateKey? = nil
            ) throws -> String {
                let csr = try csr ?? self.csr()
                let proof = try (proofBy ?? lock).signature(for: BoardProvisioning.lockKeyProofMessage(csr: csr))
                let input = BoardProvisioning.ProvisionInput(
                    token: token,
                    csr: csr,
                    lockKey: lock.publicKey.x963Representation.base64EncodedString(),
                    lockKeyProof: proof.derRepresentation.base64EncodedString(),
                    board: "sim",
                    door: door
                )
                let e = JSONEncoder()
                e.keyEncodingStrategy = .convertToSnakeCase
                return String(decoding: try e.encode(input), as: UTF8.self)
            }

            func goodbye(device: String, at: Date = Date(), key: P256.Signing.PrivateKey? = nil) throws -> String {
                let t = Int64(at.timeIntervalSince1970)
                let sig = try (key ?? tls).signature(for: BoardProvisioning.deprovisionMessage(device: device, at: t))
                return
                    #"{"device":"\#(device)","at":\#(t),"signature":"\#(sig.derRepresentation.base64EncodedString())"}"#
            }
        }

        static func token(_ api: APIClient, _ body: String = #"{"site":"hq","door":"front"}"#) async throws -> String {
            try await made(api, body).token
        }

        static func made(_ api: APIClient, _ body: String) async throws -> (id: String, token: String) {
            let made = try await api.post("/v1/enrollment-tokens", body)
            return (
                try #require(made.object["id"] as? String),
                try #require(made.object["token"] as? String, "\(made.body)")
            )
        }

        func openssl(_ args: [String]) -> (Int32, String) { Command.run("/usr/bin/openssl", args) }

        @Test func aTokenProvisionsOneBoardAndIsUsedUp() async throws {
            let fx = try await APIFixture()
            let board = Board()
            try await fx.run { api in
                let token = try await Self.token(api)
                let a = try await api.post("/v1/board/provision", try board.request(token: token), as: nil)
                #expect(a.status == .created, "\(a.body)")
                let device = try #require(a.object["device"] as? String)
                #expect(BoardProvisioning.isProvisionedID(device), "\(device)")
                #expect(a.object["org"] as? String == "acme")
                #expect(a.object["site"] as? String == "hq")
                #expect(a.object["door"] as? String == "front")
                #expect(a.object["broker"] as? String == "mqtt.example.test:8883")
                #expect(a.object["time_zone"] as? String == "Europe/Berlin")
                let keys = try #require(a.object["authority_keys"] as? [[String: String]])
                #expect(keys.map { $0["kid"] } == ["org-1"])

                // The certificate names the device (not what the CSR asked), carries the board's key, is for
                // client authentication only, and chains to the device CA as openssl sees it.
                let pem = try #require(a.object["certificate"] as? String)
                let cert = try Certificate(pemEncoded: pem)
                #expect(cert.subject.description == "CN=\(device)")
                #expect(cert.publicKey == Certificate.PublicKey(board.tls.publicKey))
                #expect(try cert.extensions.extendedKeyUsage == ExtendedKeyUsage([.clientAuth]))
                #expect(try cert.extensions.basicConstraints == .notCertificateAuthority)
                let certFile = fx.directory.appendingPathComponent("\(device).pem").path
                try pem.write(toFile: certFile, atomically: true, encoding: .utf8)
                let caFile = fx.directory.appendingPathComponent("device-ca.pem").path
                let verified = openssl(["verify", "-purpose", "sslclient", "-CAfile", caFile, certFile])
                #expect(verified.0 == 0, "\(verified.1)")

                // The lock certificate binds the lock key to the device id under the org authority.
                let lockText = try #require(a.object["lock_certificate"] as? String)
                let raw = try #require(Data(base64Encoded: lockText))
                let lockCert = try LockCertificate.parse(Array(raw))
                #expect(lockCert.lockID == device)
                #expect(lockCert.deviceKey.rawRepresentation == board.lock.publicKey.rawRepresentation)
                #expect(lockCert.keyID == "org-1")

                #expect(
                    await fx.sql("SELECT door_id || ' ' || board FROM devices WHERE id = '\(device)'") == "front sim"
                )
                #expect(
                    await fx.sql("SELECT used_by_device FROM enrollment_tokens WHERE used_at IS NOT NULL") == device
                )

                // The same token again, even with a new key: refused, and no second board.
                let again = try await api.post("/v1/board/provision", try Board().request(token: token), as: nil)
                #expect(
                    again.status == .unauthorized && again.body.contains("already used (by \(device)"),
                    "\(again.body)"
                )
                #expect(await fx.sql("SELECT count(*) FROM devices WHERE board IS NOT NULL") == "1")
            }
        }

        @Test func refusalsNameTheCheckAndChangeNothing() async throws {
            let fx = try await APIFixture()
            let board = Board()
            try await fx.run { api in
                let forFront = try await Self.token(api)
                let anyDoor = try await Self.token(api, #"{"site":"hq"}"#)
                let (expiredID, expired) = try await Self.made(api, #"{"site":"hq"}"#)
                _ = await fx.sql(
                    "UPDATE enrollment_tokens SET expires_at = now() - interval '1 minute' WHERE id = '\(expiredID)'"
                )
                let expiredRows = await fx.sql("SELECT count(*) FROM enrollment_tokens WHERE expires_at < now()")
                #expect(expiredRows == "1")
                let cases: [(String, String, HTTPResponse.Status, String)] = [
                    (
                        "unknown token", try board.request(token: String(repeating: "x", count: 43)), .unauthorized,
                        "unknown"
                    ),
                    ("short token", try board.request(token: "abc"), .unauthorized, "malformed"),
                    (
                        "other door", try board.request(token: forFront, door: "lab-door"), .unprocessableContent,
                        "is for door 'front'"
                    ),
                    ("no door", try board.request(token: anyDoor), .unprocessableContent, "names no door"),
                    (
                        "door on another site", try board.request(token: anyDoor, door: "lab-door"),
                        .unprocessableContent, "no door 'lab-door' on the token's site 'hq'"
                    ),
                    (
                        "another org's door", try board.request(token: anyDoor, door: "g-door"), .unprocessableContent,
                        "no door 'g-door'"
                    ),
                    (
                        "not a CSR",
                        try board.request(
                            token: forFront,
                            csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                        ), .unprocessableContent, "csr"
                    ),
                    (
                        "CSR signed by another key",
                        try board.request(token: forFront, csr: try board.csr(signedBy: P256.Signing.PrivateKey())),
                        .unprocessableContent, "does not verify"
                    ),
                    (
                        "lock key not proven", try board.request(token: forFront, proofBy: P256.Signing.PrivateKey()),
                        .unprocessableContent, "lock_key_proof"
                    ),
                ]
                for (what, body, status, says) in cases {
                    let a = try await api.post("/v1/board/provision", body, as: nil)
                    #expect(a.status == status && a.body.contains(says), "\(what): \(a.status) \(a.body)")
                }
                let expiredToken = try await api.post(
                    "/v1/board/provision",
                    try board.request(token: expired, door: "front"),
                    as: nil
                )
                #expect(
                    expiredToken.status == .unauthorized && expiredToken.body.contains("expired"),
                    "\(expiredToken.body)"
                )
                #expect(await fx.sql("SELECT count(*) FROM devices WHERE board IS NOT NULL") == "0")
                #expect(await fx.sql("SELECT count(*) FROM enrollment_tokens WHERE used_at IS NOT NULL") == "0")
                #expect(await fx.sql("SELECT count(*) FROM device_certificates") == "0")
                // Managers cannot take a provisioned board's shape of id.
                let taken = try await api.post("/v1/devices", #"{"id":"lock-0123456789abcdef0123","door":"front"}"#)
                #expect(taken.status == .unprocessableContent && taken.field == "id", "\(taken.body)")
            }
        }

        @Test func aDeprovisionedOrDecommissionedBoardIsInTheRevocationList() async throws {
            let fx = try await APIFixture()
            let (first, second) = (Board(), Board())
            try await fx.run { api in
                var devices: [String] = []
                var certs: [String] = []
                for b in [first, second] {
                    let a = try await api.post(
                        "/v1/board/provision",
                        try b.request(token: try await Self.token(api)),
                        as: nil
                    )
                    devices.append(try #require(a.object["device"] as? String, "\(a.body)"))
                    let file = fx.directory.appendingPathComponent("\(devices.last!).pem").path
                    let pem = try #require(a.object["certificate"] as? String)
                    try pem.write(toFile: file, atomically: true, encoding: .utf8)
                    certs.append(file)
                }
                // Refused goodbyes: signed by the lock key, by the other board, or from a clock 10 minutes off.
                for (what, body) in [
                    ("the lock key", try first.goodbye(device: devices[0], key: first.lock)),
                    ("another board's key", try first.goodbye(device: devices[0], key: second.tls)),
                    ("a wrong clock", try first.goodbye(device: devices[0], at: Date().addingTimeInterval(600))),
                ] {
                    let a = try await api.post("/v1/board/deprovision", body, as: nil)
                    #expect(a.status == .unauthorized, "\(what): \(a.body)")
                }
                #expect(await fx.sql("SELECT count(*) FROM device_certificates WHERE revoked_at IS NOT NULL") == "0")

                let bye = try await api.post("/v1/board/deprovision", try first.goodbye(device: devices[0]), as: nil)
                #expect(bye.status == .ok && bye.object["revoked_certificates"] as? Int == 1, "\(bye.body)")
                let replay = try await api.post("/v1/board/deprovision", try first.goodbye(device: devices[0]), as: nil)
                #expect(
                    replay.status == .unauthorized && replay.body.contains("already deprovisioned"),
                    "\(replay.body)"
                )
                let gone = try await api.get("/v1/devices/\(devices[0])")
                #expect(gone.object["state"] as? String == "decommissioned", "\(gone.body)")

                let caFile = fx.directory.appendingPathComponent("device-ca.pem").path
                let crl = fx.directory.appendingPathComponent("device-ca.crl").path
                func check(_ cert: String) -> (Int32, String) {
                    openssl(["verify", "-crl_check", "-CAfile", caFile, "-CRLfile", crl, cert])
                }
                // openssl verifies the list's signature, then refuses the first board and accepts the second.
                let signed = openssl(["crl", "-in", crl, "-CAfile", caFile, "-noout"])
                #expect(signed.0 == 0 && signed.1.contains("verify OK"), "\(signed.1)")
                #expect(check(certs[0]).1.contains("certificate revoked"), "\(check(certs[0]).1)")
                #expect(check(certs[1]).0 == 0, "\(check(certs[1]).1)")

                // A manager's decommission revokes too.
                let off = try await api.post("/v1/devices/\(devices[1])/decommission")
                #expect(off.status == .ok, "\(off.body)")
                #expect(check(certs[1]).1.contains("certificate revoked"), "\(check(certs[1]).1)")
                let text = openssl(["crl", "-in", crl, "-noout", "-text"]).1
                #expect(text.contains("CRL Number") && text.contains("Authority Key Identifier"), "\(text)")
            }
        }
    }
}

extension CloudAPISuite.ProvisioningTests {
    /// `wardenctl provision` stops before spending the token when the board's clock is off by more than 5 minutes,
    /// either way; a cloud that sent no Date header is not a reason to stop.
    @Test func aBoardClockFarFromTheCloudsIsNamed() {
        let cloud = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(BoardProvisioning.clockProblem(board: cloud.addingTimeInterval(299), cloud: cloud) == nil)
        #expect(BoardProvisioning.clockProblem(board: cloud.addingTimeInterval(-299), cloud: cloud) == nil)
        #expect(BoardProvisioning.clockProblem(board: cloud, cloud: nil) == nil)
        let behind = BoardProvisioning.clockProblem(board: cloud.addingTimeInterval(-86_400 * 365), cloud: cloud)
        #expect(behind?.contains("this board's clock says 2026-01-15") == true, "\(behind ?? "nil")")
        #expect(behind?.contains("set the clock") == true)
        #expect(BoardProvisioning.clockProblem(board: cloud.addingTimeInterval(301), cloud: cloud) != nil)
    }
}

extension CloudAPISuite.ProvisioningTests {
    /// The cloud's half of renewal (what the consumer does with `cert/request` and `cert/installed`): only a request
    /// signed by a current certificate's key, for another key, within the hour, is answered (a retry too); the old
    /// certificates are revoked only on a notice signed by the new key.
    @Test func renewalIsAnsweredOnlyForTheBoardAndRevokesTheOldCertificateOnItsNotice() async throws {
        let fx = try await APIFixture()
        let board = Board()
        let provisioner = try #require(fx.runtime.operations.provisioner)
        let made = Mutex("")
        try await fx.run { api in
            let token = try await Self.token(api)
            let a = try await api.post("/v1/board/provision", try board.request(token: token), as: nil)
            let id = try #require(a.object["device"] as? String, "\(a.body)")
            made.withLock { $0 = id }
        }
        let device = made.withLock { $0 }
        let now = Date()
        let next = P256.Signing.PrivateKey()
        func request(
            for key: P256.Signing.PrivateKey,
            signedBy signer: P256.Signing.PrivateKey,
            at: Date = now
        ) throws
            -> CertificateRenewal.Request
        {
            let csr = try CertificateSigningRequest(
                version: .v1,
                subject: try DistinguishedName { CommonName(device) },
                privateKey: .init(key),
                attributes: .init(),
                signatureAlgorithm: .ecdsaWithSHA256
            ).serializeAsPEM().pemString
            let t = Int64(at.timeIntervalSince1970)
            let sig = try signer.signature(for: CertificateRenewal.requestMessage(device: device, at: t, csr: csr))
            return .init(csr: csr, at: t, sig: sig.derRepresentation.base64EncodedString())
        }
        for (what, r) in [
            ("signed by another key", try request(for: next, signedBy: P256.Signing.PrivateKey())),
            ("signed by the lock key", try request(for: next, signedBy: board.lock)),
            ("for the key that signs it", try request(for: board.tls, signedBy: board.tls)),
            ("two hours old", try request(for: next, signedBy: board.tls, at: now.addingTimeInterval(-7200))),
        ] {
            await #expect(throws: CloudError.self, "\(what)") {
                _ = try await provisioner.renew(org: "acme", device: device, request: r, now: now)
            }
        }
        #expect(await fx.sql("SELECT count(*) FROM device_certificates WHERE device_id = '\(device)'") == "1")

        let issued = try await provisioner.renew(
            org: "acme",
            device: device,
            request: try request(for: next, signedBy: board.tls),
            now: now
        )
        let cert = try Certificate(pemEncoded: issued.certificate)
        #expect(cert.publicKey == Certificate.PublicKey(next.publicKey) && cert.subject.description == "CN=\(device)")
        let retry = try await provisioner.renew(
            org: "acme",
            device: device,
            request: try request(for: next, signedBy: board.tls),
            now: now
        )
        #expect(retry.serial != issued.serial, "a retry is answered too")

        let t = Int64(now.timeIntervalSince1970)
        let forged = try board.tls.signature(
            for: CertificateRenewal.installedMessage(device: device, serial: issued.serial, at: t)
        )
        await #expect(throws: CloudError.self, "a notice signed by the old key") {
            try await provisioner.installed(
                org: "acme",
                device: device,
                notice: .init(serial: issued.serial, at: t, sig: forged.derRepresentation.base64EncodedString()),
                now: now
            )
        }
        #expect(
            await fx.sql(
                "SELECT count(*) FROM device_certificates WHERE device_id = '\(device)' AND revoked_at IS NULL"
            ) == "3"
        )
        let sig = try next.signature(
            for: CertificateRenewal.installedMessage(device: device, serial: issued.serial, at: t)
        )
        try await provisioner.installed(
            org: "acme",
            device: device,
            notice: .init(serial: issued.serial, at: t, sig: sig.derRepresentation.base64EncodedString()),
            now: now
        )
        #expect(
            await fx.sql("SELECT serial FROM device_certificates WHERE device_id = '\(device)' AND revoked_at IS NULL")
                == issued.serial,
            "only the installed certificate is left"
        )
        #expect(await fx.sql("SELECT decommissioned_at IS NULL FROM devices WHERE id = '\(device)'") == "t")
    }
}
