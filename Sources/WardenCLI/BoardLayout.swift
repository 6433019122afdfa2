import Crypto
import Foundation
import POSIXIO
import WardenWire

/// Where a provisioned board keeps its files, under `root` (`/` on a board; a temporary folder in tests). The keys
/// folder is 0700 and private keys 0600; every file is written through a temporary file and a rename, so a failure
/// leaves the old file, never half a new one.
struct BoardLayout {
    let root: String

    func path(_ p: String) -> String { root == "/" ? "/" + p : (root as NSString).appendingPathComponent(p) }
    var etc: String { path("etc/warden") }
    var config: String { path("etc/warden/warden.yaml") }
    var keys: String { path("etc/warden/keys") }
    var lockKey: String { path("etc/warden/keys/lock.key") }
    var lockCertificate: String { path("etc/warden/keys/lock.cert") }
    var brokerKey: String { path("etc/warden/keys/broker.key") }
    var brokerCertificate: String { path("etc/warden/keys/broker.pem") }
    var brokerCA: String { path("etc/warden/keys/broker-ca.pem") }
    func authorityKey(_ kid: String) -> String { path("etc/warden/keys/authority-\(kid).pem") }
    /// What provisioning recorded (cloud, device, door...): `provision` compares with it, `deprovision` reads it.
    var record: String { path("etc/warden/provisioned.json") }
    var stateDirectory: String { path("var/lib/warden") }
    var controlSocket: String { path("run/warden/control.sock") }
    var systemUnits: String { path("etc/systemd/system") }

    /// The record `provision` leaves: enough for an idempotent second run and for `deprovision`.
    struct Record: Codable, Equatable {
        var cloud: String
        var device: String
        var org: String
        var site: String
        var door: String
        var board: String
        var certificateNotAfter: Date
        var provisionedAt: Date
    }

    func readRecord() -> Record? {
        guard let data = FileManager.default.contents(atPath: record) else { return nil }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try? d.decode(Record.self, from: data)
    }

    func write(_ r: Record) throws {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Self.write(try e.encode(r), to: record, mode: 0o644)
    }

    /// Writes through `path.tmp` and a rename. The file is created owner-only and then given `mode`: never readable
    /// by others in between, and the process-wide umask is left alone.
    static func write(_ data: Data, to path: String, mode: mode_t) throws {
        do { try AtomicFile.write([UInt8](data), to: path, mode: mode) } catch { throw CLIError(error.description) }
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    func makeFolders() throws {
        for (dir, mode) in [(etc, 0o755), (keys, 0o700), (stateDirectory, 0o700), (path("run/warden"), 0o700)] {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch { throw CLIError("cannot make \(dir): \(error.localizedDescription)") }
            chmod(dir, mode_t(mode))
        }
    }
}
