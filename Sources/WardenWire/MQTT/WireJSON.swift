import Foundation

/// JSON for MQTT payloads: one encoder configuration for both sides (sorted keys, so a payload is byte-stable and
/// readable with `mosquitto_sub`), and decoding that names the message and the field that was wrong.
public enum WireJSON {
    /// Payloads larger than this are refused before parsing (an audit batch is at most 64 KiB; a snapshot of a large
    /// access list travels as a JWS of up to `AccessListUpdate.maxTokenBytes`).
    public static let maxPayloadBytes = AccessListUpdate.maxTokenBytes + 1024

    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every payload type here is plain data: encoding cannot fail.
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws(WireError) -> T {
        guard bytes.count <= maxPayloadBytes else {
            throw WireError("\(what): \(bytes.count) bytes is over the \(maxPayloadBytes)-byte limit")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw WireError("\(what): required field '\(key.stringValue)' is missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw WireError("\(what): field '\(path(context))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw WireError("\(what): field '\(path(context))' is null")
        } catch let DecodingError.dataCorrupted(context) {
            throw WireError(
                "\(what): \(context.codingPath.isEmpty ? "not JSON" : "field '\(path(context))' is invalid")"
            )
        } catch {
            throw WireError("\(what): \(error)")
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
