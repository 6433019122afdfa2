import ArgumentParser
import Crypto
import Foundation
import WardenWire

/// `wardenctl deprovision`: the board tells the cloud it leaves (signed with its broker key; the cloud revokes its
/// certificates and decommissions it), then wipes its keys, certificates, config and record and disables wardend.
/// Nothing is wiped when the cloud cannot be told, unless `--offline` says so.
struct DeprovisionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deprovision",
        abstract: "Leave the cloud: revoke this board's certificate there, wipe its keys here, disable wardend."
    )
    @Option(help: "The file system root (tests and images).") var root = "/"
    @Flag(help: "Wipe without telling the cloud (unreachable): a manager must then decommission the board.")
    var offline = false

    func run() async throws {
        let layout = BoardLayout(root: root)
        guard let record = layout.readRecord() else {
            throw CLIError("this board is not provisioned (no \(layout.record)); nothing to do")
        }
        if offline {
            print(
                "not telling \(record.cloud): decommission \(record.device) in the dashboard so its certificate is revoked"
            )
        } else {
            let key = try KeyFiles.readPrivate(layout.brokerKey)
            let at = Int64(Date().timeIntervalSince1970)
            let signature = try key.signature(
                for: BoardProvisioning.deprovisionMessage(device: record.device, at: at)
            )
            let answer = try await ProvisionClient(cloud: record.cloud).deprovision(
                .init(device: record.device, at: at, signature: signature.derRepresentation.base64EncodedString())
            )
            print("\(record.cloud) revoked \(answer.revokedCertificates) certificate(s) of \(record.device)")
        }
        for path in [layout.lockKey, layout.brokerKey] { Self.shred(path) }
        let files = try FileManager.default.contentsOfDirectory(atPath: layout.keys)
        for f in files { unlink((layout.keys as NSString).appendingPathComponent(f)) }
        for path in [layout.config, layout.record] { unlink(path) }
        print("wiped the keys, certificates and config of \(record.device) in \(layout.etc)")
        let rootArgs = layout.root == "/" ? [] : ["--root=\(layout.root)"]
        let live = layout.root == "/" && FileManager.default.fileExists(atPath: "/run/systemd/system")
        do {
            try SystemCommand.run(
                "/usr/bin/systemctl",
                rootArgs + ["disable"] + (live ? ["--now"] : []) + ["wardend.service"],
                what: "disabling wardend"
            )
            print("wardend disabled")
        } catch { print("warning: \(error)") }
    }

    /// Overwrites a private key before unlinking it (on flash this is best effort; the certificate is revoked).
    static func shred(_ path: String) {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
            let h = FileHandle(forWritingAtPath: path)
        else { return }
        h.write(Data(count: size))
        try? h.synchronize()
        try? h.close()
        unlink(path)
    }
}
