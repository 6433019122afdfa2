import Foundation
import Hummingbird
import Logging

/// The request context of warden-cloud's HTTP server: who is asking (set by `Authenticator`), and a small body
/// limit (no API body needs more than a few kilobytes; a larger one is refused before it is read whole).
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
    }

    public var maxUploadSize: Int { 64 * 1024 }

    /// The caller, or 401 when the route is reached without credentials.
    public func caller() throws(Problem) -> Principal {
        guard let principal else { throw Problem(.unauthorized, "authentication required: send a bearer token") }
        return principal
    }
}
