import ArgumentParser
import Foundation

extension CloudCommand {
    /// `wardenctl cloud support-bundle`: ask a board for its support bundle through the cloud and fetch it, so a
    /// support engineer never needs a shell on the board (docs/updates.md).
    struct SupportBundle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "support-bundle",
            abstract: "Ask a board for a support bundle (signed command), list its bundles, download one.",
            subcommands: [Request.self, List.self, Download.self]
        )
        static let columns = ["id", "state", "requested_at", "uploaded_at", "size", "requested_by"]

        struct Request: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Ask the board; with --wait, wait for its upload and download it."
            )
            @OptionGroup var cloud: CloudOptions
            @Argument(help: "The board (device id).") var device: String
            @Option(help: "Seconds to wait for the upload (0: return at once).") var wait = 0
            @Option(help: "Where to write the archive after --wait (default ./warden-support-DEVICE-ID.tar.gz).")
            var out: String?

            func validate() throws {
                guard (0...3600).contains(wait) else { throw ValidationError("--wait must be 0...3600 seconds") }
            }

            func run() async throws {
                let client = try cloud.client()
                let asked = try await client.json("POST", "/v1/devices/\(device)/support-bundles")
                guard let id = asked["id"] as? String else { throw CLIError("the cloud's answer has no bundle id") }
                if wait == 0 {
                    CloudClient.print(asked, rows: [asked], columns: SupportBundle.columns, as: cloud.output)
                    return
                }
                let deadline = ContinuousClock.now + .seconds(wait)
                while ContinuousClock.now < deadline {
                    let page = try await client.json("GET", "/v1/devices/\(device)/support-bundles")
                    let mine = (page["items"] as? [[String: Any]] ?? []).first { $0["id"] as? String == id }
                    if mine?["state"] as? String == "uploaded" {
                        try await Download.fetch(client, id: id, device: device, out: out)
                        return
                    }
                    try await Task.sleep(for: .seconds(1))
                }
                throw CLIError(
                    "\(device) has not uploaded bundle \(id) within \(wait) s: it may be offline (the request "
                        + "waits an hour for it); `wardenctl cloud support-bundle list \(device)` shows it later"
                )
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The board's newest bundle requests.")
            @OptionGroup var cloud: CloudOptions
            @Argument(help: "The board (device id).") var device: String
            func run() async throws {
                let page = try await cloud.client().json("GET", "/v1/devices/\(device)/support-bundles")
                CloudClient.print(
                    page,
                    rows: page["items"] as? [[String: Any]] ?? [],
                    columns: SupportBundle.columns,
                    as: cloud.output
                )
            }
        }

        struct Download: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Download an uploaded bundle (owner-only file).")
            @OptionGroup var cloud: CloudOptions
            @Argument(help: "The bundle id.") var id: String
            @Option(help: "Where to write it (default ./warden-support-ID.tar.gz).") var out: String?
            func run() async throws { try await Self.fetch(cloud.client(), id: id, device: nil, out: out) }

            static func fetch(_ client: CloudClient, id: String, device: String?, out: String?) async throws {
                let data = try await client.call("GET", "/v1/support-bundles/\(id)")
                let path = out ?? "warden-support-\(device.map { "\($0)-" } ?? "")\(id).tar.gz"
                try KeyFiles.writeSecret(Array(data), to: path)
                Stdout.line("support bundle \(id): \(path) (\(data.count) bytes)")
            }
        }
    }
}
