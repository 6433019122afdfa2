import Foundation
import Hummingbird
import NIOCore

/// The API's JSON spelling: snake_case keys, RFC 3339 times (fractional seconds accepted on input, whole
/// milliseconds written), and a body read up to the context's limit.
enum APIJSON {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(formatDate(date))
        }
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = parseDate(s) else {
                throw DecodingError.dataCorruptedError(
                    in: c,
                    debugDescription: "'\(s.prefix(40))' is not an RFC 3339 date-time"
                )
            }
            return date
        }
        return d
    }()

    static func formatDate(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    static func parseDate(_ s: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s) { return d }
        if let d = try? Date.ISO8601FormatStyle().parse(s) { return d }
        // RFC 3339 allows a lower-case t and z, and an offset instead of Z.
        let upper = s.uppercased()
        if upper != s { return parseDate(upper) }
        return nil
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: APIContext) async throws -> T {
        if let ct = request.headers[.contentType], !ct.lowercased().hasPrefix("application/json") {
            throw Problem(.unsupportedMediaType, "send the body as application/json", field: "body")
        }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: context.maxUploadSize) } catch {
            throw Problem(.contentTooLarge, "the body is larger than \(context.maxUploadSize) bytes", field: "body")
        }
        // No body reads as `{}`: an action with only optional fields (unlock, invite) needs none.
        let data = buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer.readableBytesView)
        do { return try decoder.decode(T.self, from: data) } catch let e as DecodingError {
            throw Problem.from(e)
        } catch let e as Problem { throw e } catch {
            throw Problem(.badRequest, "the body could not be read: \(error)", field: "body")
        }
    }
}
