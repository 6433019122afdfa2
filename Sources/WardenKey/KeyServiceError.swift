/// A call to the cloud that did not give the phone its credentials; `status` is the HTTP status when there was one
/// (401: the invitation or phone token is no longer good, enroll again).
public struct KeyServiceError: Error, Sendable, CustomStringConvertible {
    public var status: Int?
    public var description: String
    public init(status: Int?, _ description: String) {
        self.status = status
        self.description = description
    }
}
