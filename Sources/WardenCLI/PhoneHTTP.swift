import Foundation
import WardenKey

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// URLSession as KeyService's transport (on Linux, Foundation's libcurl-backed one).
enum PhoneHTTP {
    @Sendable static func send(_ r: KeyService.Request) async throws -> KeyService.Reply {
        guard let url = URL(string: r.url) else { throw CLIError("'\(r.url)' is not a URL") }
        var request = URLRequest(url: url, timeoutInterval: 15)
        request.httpMethod = r.method
        for (k, v) in r.headers { request.setValue(v, forHTTPHeaderField: k) }
        request.httpBody = r.body
        let (data, response) = try await URLSession.shared.data(for: request)
        return KeyService.Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }
}
