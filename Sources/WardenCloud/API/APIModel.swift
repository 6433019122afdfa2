import Foundation
import WardenCore

/// The JSON bodies of the managers' API (docs/openapi.yaml is their contract). Encoded with snake_case keys and
/// RFC 3339 times; inputs are checked by `APIInput` before anything is written.
public enum APIModel {
    public struct Org: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
    }

    public struct Site: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var timeZone: String
        public var holidays: [String]
    }

    public struct SiteInput: Codable, Sendable {
        public var id: String
        public var name: String
        public var timeZone: String
        public var holidays: [String]?
    }

    public struct SitePatch: Codable, Sendable {
        public var name: String?
        public var timeZone: String?
        public var holidays: [String]?
    }

    public struct Door: Codable, Sendable, Equatable {
        public var id: String
        public var site: String
        public var name: String
        public var accessVersion: Int64
        /// The door's live state as its online boards last reported it: `locked`, `unlocked`, `open`, `lockdown`,
        /// `offline` (no board online) or `unknown` (no board yet).
        public var state: String
        public var boards: Int
        public var boardsOnline: Int
    }

    public struct DoorInput: Codable, Sendable {
        public var id: String
        public var site: String
        public var name: String
    }

    public struct DoorGroup: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var doors: [String]
    }

    public struct User: Codable, Sendable, Equatable {
        public var id: String
        public var email: String
        public var name: String
        public var role: String
        public var sites: [String]
        public var disabled: Bool
        public var createdAt: Date
    }

    public struct UserInput: Codable, Sendable {
        public var id: String?
        public var email: String
        public var name: String
        public var role: String?
        public var sites: [String]?
        public var password: String?
    }

    public struct UserPatch: Codable, Sendable {
        public var name: String?
        public var role: String?
        public var sites: [String]?
        public var disabled: Bool?
        public var password: String?
    }

    public struct InvitationInput: Codable, Sendable {
        public var validHours: Int?
    }

    public struct Invitation: Codable, Sendable, Equatable {
        public var user: String
        /// Shown once: what the phone enrolls with (in a link or a QR code).
        public var token: String
        public var expiresAt: Date
    }

    public struct Key: Codable, Sendable, Equatable {
        public var id: String
        public var user: String
        public var doors: [String]
        public var groups: [String]
        public var validFrom: Date
        public var validUntil: Date
        public var schedule: [ScheduleWindow]
        public var extendedTime: Bool
        public var oneTime: Bool
        public var status: String
        public var createdAt: Date
        public var revokedAt: Date?
        /// Phones holding a credential for this key.
        public var phones: Int
    }

    public struct KeyInput: Codable, Sendable {
        public var user: String
        public var doors: [String]?
        public var groups: [String]?
        public var validFrom: Date?
        public var validUntil: Date?
        public var schedule: [ScheduleWindow]?
        public var extendedTime: Bool?
        public var oneTime: Bool?
    }

    /// A temporary key for a visitor or contractor: a holder user, the key and an invitation in one call.
    public struct VisitorInput: Codable, Sendable {
        public var name: String
        public var email: String
        public var doors: [String]?
        public var groups: [String]?
        public var validFrom: Date?
        public var validUntil: Date
        public var oneTime: Bool?
    }

    public struct Visitor: Codable, Sendable, Equatable {
        public var user: User
        public var key: Key
        public var invitation: Invitation
    }

    public struct Device: Codable, Sendable, Equatable {
        public var id: String
        public var door: String
        public var online: Bool
        public var lastSeen: Date?
        public var appliedVersion: Int64?
        public var doorVersion: Int64
        public var state: String?
        public var chainFlagged: Bool
        public var decommissionedAt: Date?
        /// The warden-board version the board last reported running (what a rollout moves).
        public var softwareVersion: String?
    }

    public struct DeviceInput: Codable, Sendable {
        public var id: String
        public var door: String
    }

    public struct LockdownPlanInput: Codable, Sendable {
        public var name: String
        /// The site's doors it locks down; empty or absent: every door of the site when it is triggered.
        public var doors: [String]?
    }

    public struct LockdownPlan: Codable, Sendable, Equatable {
        public var id: String
        public var site: String
        public var name: String
        public var doors: [String]
        public var createdAt: Date
    }

    public struct RolloutInput: Codable, Sendable {
        public var version: String
        public var channel: String?
        public var waves: [String]?
        public var maxFailures: Int?
        public var devices: [String]?
    }

    public struct RolloutDevice: Codable, Sendable, Equatable {
        public var device: String
        /// 1-based, as the waves are shown.
        public var wave: Int
        public var state: String
        public var detail: String?
        /// What the board last reported running.
        public var version: String?
    }

    public struct Rollout: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public var channel: String
        public var waves: [String]
        public var maxFailures: Int
        /// `running`, `completed`, `stopped` (too many failures) or `aborted` (by a manager).
        public var state: String
        public var reason: String?
        /// The wave being rolled out (1-based).
        public var wave: Int
        public var createdAt: Date
        public var updatedAt: Date
        public var devices: [RolloutDevice]
    }

    /// A support bundle a manager asked a board for (docs/updates.md).
    public struct SupportBundle: Codable, Sendable, Equatable {
        public var id: String
        public var device: String
        /// `requested` (the board has not uploaded yet), `uploaded`, or `expired` (no upload before `expires_at`).
        public var state: String
        public var requestedBy: String
        public var requestedAt: Date
        public var expiresAt: Date
        public var uploadedAt: Date?
        public var size: Int64?
        public var sha256: String?
        /// The signed command's nonce; the board's answer is in its audit as a `command` record with it.
        public var command: String?
    }

    public struct LockdownInput: Codable, Sendable {
        public var on: Bool
    }

    public struct UnlockInput: Codable, Sendable {
        public var millis: Int?
    }

    public struct CommandSent: Codable, Sendable, Equatable {
        public var device: String
        public var command: String
        public var id: String
    }

    public struct Commands: Codable, Sendable, Equatable {
        public var commands: [CommandSent]
    }

    public struct AuditEvent: Codable, Sendable, Equatable {
        public var device: String
        public var seq: Int64
        public var at: Date
        public var kind: String
        public var result: String?
        public var door: String?
        public var credential: String?
        public var user: String?
        public var reason: String?
        public var detail: String?
    }

    public struct AuditPage: Codable, Sendable, Equatable {
        public var events: [AuditEvent]
        /// Pass as `cursor` for the next, older page; absent on the last page.
        public var nextCursor: String?
    }

    public struct Alarm: Codable, Sendable, Equatable {
        public var device: String
        public var door: String?
        public var seq: Int64
        public var at: Date
        public var kind: String
        public var reason: String?
        public var detail: String?
    }

    public struct EnrollmentTokenInput: Codable, Sendable {
        public var site: String
        public var door: String?
        public var validMinutes: Int?
    }

    public struct EnrollmentToken: Codable, Sendable, Equatable {
        public var id: String
        public var site: String
        public var door: String?
        public var expiresAt: Date
        public var usedAt: Date?
        /// Present only in the answer that created it.
        public var token: String?
    }

    public struct APITokenInput: Codable, Sendable {
        public var name: String
        public var scope: String?
    }

    public struct APIToken: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var user: String
        public var scope: String
        public var createdAt: Date
        public var lastUsedAt: Date?
        public var revokedAt: Date?
        /// Present only in the answer that created it.
        public var token: String?
    }

    public struct PhoneEnrollInput: Codable, Sendable {
        public var invitation: String
        public var publicKey: CredentialClaims.HolderJWK
    }

    public struct PhoneCredential: Codable, Sendable, Equatable {
        public var key: String
        public var credential: String
        public var doors: [String]
        public var validUntil: Date
    }

    public struct PhoneCredentials: Codable, Sendable, Equatable {
        public var phone: String
        public var user: String
        public var credentials: [PhoneCredential]
        /// The authority keys (kid to P-256 public key, PEM) a phone checks its lock against.
        public var authority: [String: String]
    }

    public struct PhoneEnrollment: Codable, Sendable, Equatable {
        public var phone: String
        /// Shown once: the phone fetches re-issued credentials with it.
        public var phoneToken: String
        public var credentials: PhoneCredentials
    }

    public struct SSOConfigInput: Codable, Sendable {
        /// The provider's issuer URL, exactly as its discovery document names it.
        public var issuer: String
        public var clientId: String
        /// Required the first time; omitted, the stored one is kept.
        public var clientSecret: String?
        /// On: the org's managers other than admins sign in only through the provider (admins keep their
        /// password as the way in when the provider is down).
        public var enforced: Bool?
    }

    public struct SSOConfig: Codable, Sendable, Equatable {
        public var issuer: String
        public var clientId: String
        public var enforced: Bool
        /// To register at the provider as the client's redirect URI.
        public var redirectUri: String
        public var updatedAt: Date
    }

    public struct WebhookInput: Codable, Sendable {
        public var url: String
        /// Any of `alarm`, `decision`, `board_offline` (default: alarm and board_offline).
        public var events: [String]?
        /// `warden` (our signed envelope) or `slack` (an incoming-webhook `{"text": …}`).
        public var format: String?
    }

    public struct Webhook: Codable, Sendable, Equatable {
        public var id: String
        public var url: String
        public var events: [String]
        public var format: String
        public var disabled: Bool
        public var createdAt: Date
        /// The signing secret: present only in the answer that created it.
        public var secret: String?
    }

    public struct WebhookDelivery: Codable, Sendable, Equatable {
        public var id: Int64
        public var event: String
        /// `pending` (waiting for its next attempt), `sending`, `delivered` or `failed` (attempts exhausted).
        public var status: String
        public var attempts: Int
        public var lastStatus: Int?
        public var lastError: String?
        public var createdAt: Date
        public var deliveredAt: Date?
    }

    public struct Page<Item: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
        public var items: [Item]
    }
}
