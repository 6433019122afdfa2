import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An API error as RFC 9457 `application/problem+json`: the status, a short title, what was wrong and, for bad
/// input, the field it was in. Every 4xx the API answers is one of these, so a client shows the same thing a human
/// reads in the log.
public struct Problem: HTTPResponseError, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var detail: String
    /// The JSON path of the offending field (`valid_until`, `schedule[0].start`) or query parameter.
    public var field: String?

    public init(_ status: HTTPResponse.Status, _ detail: String, field: String? = nil) {
        self.status = status
        self.detail = detail
        self.field = field
    }

    public static func invalid(_ field: String, _ detail: String) -> Problem {
        Problem(.unprocessableContent, "\(field): \(detail)", field: field)
    }

    /// Another org's object, an object outside a site manager's sites, and a missing one all read the same.
    public static func notFound(_ what: String) -> Problem { Problem(.notFound, "\(what) not found") }

    public static let forbidden = Problem(.forbidden, "your role does not allow this")

    struct Body: Encodable {
        var type = "about:blank"
        var title: String
        var status: Int
        var detail: String
        var field: String?
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(title: status.reasonPhrase, status: status.code, detail: detail, field: field)
        let data = try JSONEncoder().encode(body)
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"warden\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A body the decoder refused, named by its field in the API's spelling (snake_case).
    static func from(_ error: DecodingError) -> Problem {
        func path(_ keys: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            var out = ""
            for k in keys + (last.map { [$0] } ?? []) {
                if let i = k.intValue {
                    out += "[\(i)]"
                } else {
                    out += (out.isEmpty ? "" : ".") + snakeCase(k.stringValue)
                }
            }
            return out.isEmpty ? "body" : out
        }
        switch error {
        case .keyNotFound(let key, let c):
            return .invalid(path(c.codingPath, key), "is required")
        case .typeMismatch(let type, let c):
            return .invalid(path(c.codingPath), "must be \(jsonName(type))")
        case .valueNotFound(let type, let c):
            return .invalid(path(c.codingPath), "must be \(jsonName(type)), not null")
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return Problem(.badRequest, "the body is not valid JSON", field: "body") }
            return .invalid(path(c.codingPath), c.debugDescription)
        @unknown default:
            return Problem(.badRequest, "the body could not be read", field: "body")
        }
    }

    static func jsonName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Date.Type: "an RFC 3339 date-time"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }

    static func snakeCase(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isUppercase {
                out += "_" + c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }
}
