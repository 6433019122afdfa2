import Crypto
import Foundation
import WardenWire

/// The offline decision: pure, synchronous, no I/O. Everything it needs comes in as values (the verified credential,
/// the access-list status, the time) so every deny path is testable by construction, and an error anywhere is a deny.
public struct AccessPolicy: Sendable {
    public var scope: DoorScope
    public var calendar: SiteCalendar
    /// When true a credential must also be listed as active in the board's access list (allow-list mode); when false
    /// any authority-signed credential that is not revoked is accepted (offline-first, the default).
    public var requireListed: Bool

    public init(scope: DoorScope, calendar: SiteCalendar, requireListed: Bool = false) {
        self.scope = scope
        self.calendar = calendar
        self.requireListed = requireListed
    }

    /// Decide for a credential whose authority signature and holder proof were already checked.
    /// - Parameters:
    ///   - at: the trusted decision time, or nil when time is unknown and the time policy says deny.
    public func decide(
        _ credential: Credential,
        listStatus: AccessListStatus,
        lockdown: Bool,
        at time: Date?
    ) -> AccessDecision {
        func deny(_ r: DenyReason) -> AccessDecision {
            .denied(r, credentialID: credential.credentialID, userID: credential.userID)
        }
        if lockdown { return deny(.lockdown) }
        if listStatus == .revoked { return deny(.revoked) }
        if requireListed && listStatus != .active { return deny(.notListed) }
        if !scope.admits(credential) { return deny(.wrongDoor) }
        guard let now = time else { return deny(.timeUnknown) }
        if now < credential.notBefore { return deny(.notYetValid) }
        if now >= credential.expires { return deny(.expired) }
        switch credential.schedule.evaluate(now, in: calendar) {
        case .inside: break
        case .outside: return deny(.outsideSchedule)
        case .holiday: return deny(.holiday)
        }
        return .granted(
            .init(
                credentialID: credential.credentialID,
                userID: credential.userID,
                extendedTime: credential.extendedTime
            )
        )
    }

    /// The whole check from token to decision, for callers that hold a token and a holder proof.
    public func evaluate(
        token: String,
        verifier: CredentialVerifier,
        holderProofValid: (P256.Signing.PublicKey, Credential) -> Bool,
        listStatus: (String) -> AccessListStatus,
        lockdown: Bool,
        at time: Date?
    ) -> AccessDecision {
        let credential: Credential
        do {
            credential = try verifier.verify(token)
        } catch {
            return .denied(error.denyReason, credentialID: nil, userID: nil)
        }
        guard holderProofValid(credential.holderKey, credential) else {
            return .denied(.holderProofInvalid, credentialID: credential.credentialID, userID: credential.userID)
        }
        return decide(credential, listStatus: listStatus(credential.credentialID), lockdown: lockdown, at: time)
    }
}
