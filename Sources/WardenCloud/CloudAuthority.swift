import Crypto
import Foundation
import WardenAuthority
import WardenWire

/// The org authority as the cloud holds it: the private key from a 0600 file, signing access-list updates,
/// commands and time answers (and credentials). Nothing the broker or a consumer relays is trusted by a board
/// unless this signed it.
public struct CloudAuthority: Sendable {
    public let issuer: CredentialIssuer
    public let name: String

    public init(issuer: CredentialIssuer, name: String = "warden-cloud") {
        self.issuer = issuer
        self.name = name
    }

    /// Loads the key, refusing a file others can read (it can open every door of the org).
    public static func load(keyFile: String, keyID: String) throws(CloudError) -> CloudAuthority {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: keyFile),
            let pem = try? String(contentsOfFile: keyFile, encoding: .utf8)
        else { throw CloudError(.config, "authority key: cannot read \(keyFile)") }
        if let mode = attrs[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw CloudError(
                .config,
                "authority key \(keyFile) is readable by others (mode \(String(mode, radix: 8))); run chmod 600 on it"
            )
        }
        guard let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
            throw CloudError(.config, "authority key \(keyFile) is not a P-256 private key in PEM form")
        }
        return CloudAuthority(issuer: CredentialIssuer(keyID: keyID, privateKey: key))
    }

    public func sign(_ payload: some Encodable & Sendable) async throws(CloudError) -> String {
        do { return try await issuer.sign(payload) } catch { throw CloudError(.invalid, "signing failed: \(error)") }
    }
}
