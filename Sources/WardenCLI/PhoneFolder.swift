import Foundation
import WardenKey

/// The phone's folder: its token (0600, like a key), one JWS per credential and the authority keys.
struct PhoneFolder {
    let path: String

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func write(token: String, cloud: String) throws {
        try KeyFiles.writeSecret(Array(token.utf8), to: file("phone.token"))
        guard FileManager.default.createFile(atPath: file("cloud.url"), contents: Data(cloud.utf8)) else {
            throw CLIError("cannot write into \(path)")
        }
    }

    func readToken() throws -> (token: String, cloud: String) {
        (try KeyFiles.readText(file("phone.token")), try KeyFiles.readText(file("cloud.url")))
    }

    /// Replaces the credentials: one that is no longer in the bundle (revoked, expired) is removed.
    func write(_ bundle: KeyService.Bundle) throws {
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in existing where name.hasSuffix(".jws") { try FileManager.default.removeItem(atPath: file(name)) }
        for c in bundle.credentials {
            guard c.key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw CLIError("the cloud sent a key id '\(c.key)' that is not a safe file name")
            }
            guard FileManager.default.createFile(atPath: file("\(c.key).jws"), contents: Data(c.credential.utf8)) else {
                throw CLIError("cannot write \(file("\(c.key).jws"))")
            }
        }
        for (kid, pem) in bundle.authority {
            guard kid.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }),
                FileManager.default.createFile(atPath: file("authority-\(kid).pem"), contents: Data(pem.utf8))
            else { throw CLIError("cannot write the authority key '\(kid)'") }
        }
        let summary = try JSONEncoder().encode(
            bundle.credentials.map { ["key": $0.key, "doors": $0.doors.joined(separator: " ")] }
        )
        _ = FileManager.default.createFile(atPath: file("phone.json"), contents: summary)
    }
}
