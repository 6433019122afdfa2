import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where the managers' API is and the token to use: `--url`/`--token-file`, else `WARDEN_URL`/`WARDEN_TOKEN`, else
/// the file `WARDEN_CLI_CONFIG` or `~/.config/warden/cli.conf` (`url = …`, `token_file = …` lines). A token is
/// never taken from the command line itself (shell history, `ps`).
struct CloudOptions: ParsableArguments {
    @Option(help: "The cloud's base URL (else WARDEN_URL, else the config file).") var url: String?
    @Option(
        name: .customLong("token-file"),
        help: "A file holding the API token (else WARDEN_TOKEN, else the config file)."
    )
    var tokenFile: String?
    @Option(help: "text (a table for people) or json (the API's answer, for scripts).") var output: OutputFormat = .text

    enum OutputFormat: String, ExpressibleByArgument, Sendable { case text, json }

    func client() throws -> CloudClient {
        let env = ProcessInfo.processInfo.environment
        let configPath =
            env["WARDEN_CLI_CONFIG"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config/warden/cli.conf")
        var file: [String: String] = [:]
        if let text = try? String(contentsOfFile: configPath, encoding: .utf8) {
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2 {
                    file[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        guard let base = url ?? env["WARDEN_URL"] ?? file["url"] else {
            throw CLIError("no cloud URL: pass --url, set WARDEN_URL, or put 'url = …' in \(configPath)")
        }
        let token: String
        if let path = tokenFile ?? file["token_file"] {
            token = try KeyFiles.readText(path)
        } else if let t = env["WARDEN_TOKEN"] {
            token = t
        } else {
            throw CLIError(
                "no API token: pass --token-file, set WARDEN_TOKEN, or put 'token_file = …' in \(configPath)"
            )
        }
        return CloudClient(baseURL: base.hasSuffix("/") ? String(base.dropLast()) : base, token: token)
    }
}

/// The managers' API over URLSession: JSON in and out, a problem answer turned into the error a person reads.
struct CloudClient: Sendable {
    let baseURL: String
    let token: String

    func call(_ method: String, _ path: String, query: [(String, String?)] = [], body: Any? = nil) async throws -> Data
    {
        var components = URLComponents(string: baseURL + path)
        let items = query.compactMap { k, v in v.map { URLQueryItem(name: k, value: $0) } }
        if !items.isEmpty { components?.queryItems = items }
        guard let url = components?.url else { throw CLIError("'\(baseURL)\(path)' is not a URL") }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data
        let response: URLResponse
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw CLIError("cannot reach the cloud at \(baseURL): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            let problem = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            let detail = problem?["detail"] as? String ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw CLIError("the cloud answered \(status): \(detail)")
        }
        return data
    }

    func json(
        _ method: String,
        _ path: String,
        query: [(String, String?)] = [],
        body: Any? = nil
    ) async throws
        -> [String: Any]
    {
        let data = try await call(method, path, query: query, body: body)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CLIError("the cloud's answer to \(path) is not a JSON object")
        }
        return object
    }

    /// Prints the API's answer as it came (`--output json`) or as aligned columns.
    static func print(
        _ object: [String: Any],
        rows: [[String: Any]],
        columns: [String],
        as format: CloudOptions.OutputFormat
    ) {
        if format == .json {
            let data =
                (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data()
            Stdout.line(String(decoding: data, as: UTF8.self))
            return
        }
        let cells = rows.map { row in columns.map { Self.text(row[$0]) } }
        let widths = columns.indices.map { i in max(columns[i].count, cells.map { $0[i].count }.max() ?? 0) }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        Stdout.line(line(columns.map { $0.uppercased() }))
        for c in cells { Stdout.line(line(c)) }
    }

    static func text(_ value: Any?) -> String {
        switch value {
        case let s as String: s
        case let a as [Any]: a.map { text($0) }.joined(separator: ",")
        case let n as NSNumber: n.stringValue
        case nil, is NSNull: "-"
        default: "\(value!)"
        }
    }
}
