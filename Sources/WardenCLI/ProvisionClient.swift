import Foundation
import WardenWire

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The board's two calls to warden-cloud (`/v1/board/provision`, `/v1/board/deprovision`) and the reachability
/// and clock check before them. Every failure names the cloud and what to do.
struct ProvisionClient {
    let cloud: String

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            guard let d = f.date(from: s) ?? ISO8601DateFormatter().date(from: s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not a date-time")
            }
            return d
        }
        return d
    }()

    init(cloud: String) throws {
        guard let u = URLComponents(string: cloud), ["http", "https"].contains(u.scheme ?? ""), u.host?.isEmpty == false
        else { throw CLIError("--cloud '\(cloud)' is not an http(s) URL such as https://warden.example.com") }
        self.cloud = cloud.hasSuffix("/") ? String(cloud.dropLast()) : cloud
    }

    /// The cloud's clock, from its `/healthz` answer's Date header (it also proves the cloud is reachable).
    func cloudTime() async throws -> Date? {
        let (_, response) = try await send("GET", "/healthz", body: nil)
        guard let date = response.value(forHTTPHeaderField: "Date") else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: date)
    }

    func provision(_ input: BoardProvisioning.ProvisionInput) async throws -> BoardProvisioning.Provisioned {
        try await call("/v1/board/provision", input, expect: 201)
    }

    func deprovision(_ input: BoardProvisioning.DeprovisionInput) async throws -> BoardProvisioning.Deprovisioned {
        try await call("/v1/board/deprovision", input, expect: 200)
    }

    private func call<In: Encodable, Out: Decodable>(_ path: String, _ input: In, expect: Int) async throws -> Out {
        let (data, response) = try await send("POST", path, body: try Self.encoder.encode(input))
        guard response.statusCode == expect else {
            let problem = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            let detail = problem?["detail"] as? String ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw CLIError("the cloud refused (\(response.statusCode)): \(detail)")
        }
        do { return try Self.decoder.decode(Out.self, from: data) } catch {
            throw CLIError(
                "the cloud's answer to \(path) is not what this wardenctl expects (\(error)); update wardenctl"
            )
        }
    }

    private func send(_ method: String, _ path: String, body: Data?) async throws -> (Data, HTTPURLResponse) {
        guard let url = URL(string: cloud + path) else { throw CLIError("'\(cloud)\(path)' is not a URL") }
        var request = URLRequest(url: url, timeoutInterval: 20)
        request.httpMethod = method
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            guard let http = response as? HTTPURLResponse else { throw CLIError("no HTTP answer from \(cloud)") }
            return (data, http)
        } catch let e as CLIError {
            throw e
        } catch {
            throw CLIError(
                "cannot reach the cloud at \(cloud) (\(error.localizedDescription)): check the URL and the board's network"
            )
        }
    }
}
