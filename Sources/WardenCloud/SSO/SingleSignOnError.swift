/// Why a single sign-on did not sign anyone in, worded for the person at the login page (the dashboard shows
/// `message`); `status` is the HTTP answer.
struct SingleSignOnError: Error, CustomStringConvertible, Equatable {
    enum Kind: Sendable, Equatable {
        /// The org has no provider configured (or the org does not exist: the same answer).
        case notConfigured
        /// The login is unknown, expired, already used, or was started in another browser.
        case staleLogin
        /// The provider could not be reached or answered something that is not OpenID Connect.
        case provider
        /// The provider said no, or its ID token failed a check (signature, issuer, audience, nonce, expiry).
        case rejected
        /// The provider vouched for someone who is not an active manager of this org.
        case unknownUser
    }
    var kind: Kind
    var message: String
    var description: String { message }

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    var status: Int {
        switch kind {
        case .notConfigured: 404
        case .staleLogin: 400
        case .provider: 502
        case .rejected, .unknownUser: 403
        }
    }
}
