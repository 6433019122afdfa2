import Crypto
import Foundation
import Testing
import WardenTestSupport

/// `warden-cloud --check` like `wardend --check`: a good config passes, a bad one names the key and what to do.
@Suite struct CloudCommandTests {
    @Test func checkNamesWhatIsWrong() throws {
        let dir = try ServerProcess.makeDirectory("cloudcheck")
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = dir.appendingPathComponent("authority.pem").path
        _ = FileManager.default.createFile(
            atPath: key,
            contents: Data(P256.Signing.PrivateKey().pemRepresentation.utf8),
            attributes: [.posixPermissions: 0o600]
        )
        func check(_ yaml: String, env: [String: String] = [:]) throws -> (Int32, String) {
            let file = dir.appendingPathComponent("cloud.yaml").path
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            let (code, out, err) = try Command.output(CloudStack.bin("warden-cloud"), ["--check", "--config", file])
            return (code, out + err)
        }
        let good =
            "database: {host: db.internal}\nbroker: {host: mqtt.internal, port: 8883}\nauthority: {key: authority.pem, kid: k1}\n"
        let (ok, text) = try check(good)
        #expect(
            ok == 0
                && text.contains(
                    "ok (database warden@db.internal:5432/warden, broker mqtt.internal:8883, authority key k1)"
                )
        )
        let (bad, why) = try check(good + "databse: {}\n")
        #expect(bad == 1 && why.contains("databse: unknown key"))
        let (port, portWhy) = try check("broker: {port: 0}\nauthority: {key: authority.pem, kid: k1}\n")
        #expect(port == 1 && portWhy.contains("broker.port: '0' is not a whole number in 1...65535"))
        chmod(key, 0o644)
        let (open, openWhy) = try check(good)
        #expect(open == 1 && openWhy.contains("readable by others") && openWhy.contains("chmod 600"))
    }
}
