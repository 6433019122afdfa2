import Crypto
import Foundation
import WardenCore
import WardenStore
import WardenWire

/// Who may enter: the authority's credentials (verified once, cached by their canonical identity), the offline
/// policy, the failure limiter and the in-memory access list with its signed updates. No hardware and no audit:
/// it returns decisions and outcomes, and its owner (`DoorController`'s actor, the one order of truth) acts on them
/// and records them. Sync (MQTT) applies access-list updates through the same owner.
struct AccessService {
    private let db: WardenDatabase
    private(set) var policy: AccessPolicy
    private let verifier: CredentialVerifier
    private let authority: AuthorityKeySet
    private(set) var limiter: FailureLimiter
    /// The access list in memory (`AccessListIndex`), so no decision reads SQLite. Loaded at start and after a
    /// snapshot, changed in place by deltas right after they commit. `nil` if it could not be loaded: every id then
    /// counts as revoked (fail closed) until a reload succeeds (retried every minute and on the next update).
    private(set) var accessIndex: AccessListIndex?

    /// Verified credentials by `CompactJWS.canonicalIdentity` (the low-S spelling of the token: both spellings of
    /// one signature are one entry). A phone presents the same token every time, so the authority signature and the
    /// JSON are checked once; holder proof, revocation, time, scope and schedule are checked on every presentation.
    /// Bounded, evicted through a ring (oldest first); grown on demand (reserving 4,096 entries cost resident memory
    /// a board with few phones never uses, docs/benchmarks.md).
    private var cache: [SHA256Digest: Credential] = [:]
    private var cacheRing: [SHA256Digest] = []
    private var cacheNext = 0
    static var cacheSize: Int { 4096 }

    init(config: WardenConfig, database: WardenDatabase) throws(StoreError) {
        db = database
        policy = AccessPolicy(
            scope: DoorScope(doorID: config.doorID, groups: config.doorGroups),
            calendar: config.calendar,
            requireListed: config.requireListed
        )
        verifier = CredentialVerifier(authority: config.authority)
        authority = config.authority
        limiter = FailureLimiter(
            maxFailures: config.presentation.maxFailures,
            penalty: config.presentation.backoff,
            globalMaxFailures: config.presentation.maxGlobalFailures
        )
        accessIndex = try database.accessListIndex()
    }

    /// The access-list status for a decision, from memory; fails closed when the index is not loaded.
    func listStatus(_ credentialID: String) -> AccessListStatus {
        accessIndex?.status(of: credentialID) ?? .revoked
    }

    /// Reloads the whole index from the store (after a snapshot, or to recover from a failed load); the error, if
    /// it failed (every id then reads as revoked).
    mutating func reloadIndex() -> (any Error)? {
        do {
            accessIndex = try db.accessListIndex()
            return nil
        } catch {
            accessIndex = nil
            return error
        }
    }

    /// Decides a presentation: the token verified (or found in the cache), the holder's proof, then the policy.
    mutating func decide(
        token: String,
        holderProofValid: (P256.Signing.PublicKey) -> Bool,
        lockdown: Bool,
        at time: Date?
    ) -> AccessDecision {
        do {
            let credential = try verified(token)
            guard holderProofValid(credential.holderKey) else {
                return .denied(.holderProofInvalid, credentialID: credential.credentialID, userID: credential.userID)
            }
            return decide(credential, lockdown: lockdown, at: time)
        } catch {
            return .denied(error.denyReason, credentialID: nil, userID: nil)
        }
    }

    /// Decides for an already verified credential.
    func decide(_ credential: Credential, lockdown: Bool, at time: Date?) -> AccessDecision {
        policy.decide(credential, listStatus: listStatus(credential.credentialID), lockdown: lockdown, at: time)
    }

    private mutating func verified(_ token: String) throws(JWSError) -> Credential {
        let bytes = Array(token.utf8)
        guard let key = CompactJWS.canonicalIdentity(of: bytes) else { return try verifier.verify(token) }
        if let c = cache[key] { return c }
        let c = try verifier.verify(token)
        if cacheRing.count < Self.cacheSize {
            cacheRing.append(key)
        } else {
            cache[cacheRing[cacheNext]] = nil
            cacheRing[cacheNext] = key
            cacheNext = (cacheNext + 1) % Self.cacheSize
        }
        cache[key] = c
        return c
    }

    /// Verifies and commits a signed access-list update, then brings the in-memory index along before any other
    /// decision. Returns the update and, if the index had to be reloaded and that failed, the error.
    mutating func apply(token: String) throws -> (update: AccessListUpdate, reloadError: (any Error)?) {
        let update = try AccessListUpdate.verified(token, authority: authority)
        let change = try db.apply(update, scope: policy.scope)
        switch change {
        case .changed(let changes) where accessIndex != nil:
            accessIndex?.apply(changes)
            return (update, nil)
        case .changed, .replaced:
            return (update, reloadIndex())
        }
    }

    // MARK: failures

    mutating func admit(_ peer: String, at now: Duration) -> Bool { limiter.admit(peer, at: now) }
    mutating func recordSuccess(_ peer: String) { limiter.recordSuccess(peer) }
    mutating func recordFailure(_ peer: String, againstPeer: Bool, at now: Duration) -> FailureLimiter.Outcome {
        limiter.recordFailure(peer, againstPeer: againstPeer, at: now)
    }
    mutating func takeSummary(at now: Duration) -> FailureLimiter.AuditSummary? { limiter.takeSummary(at: now) }
}
