import Crypto
import Foundation
import Testing
import WardenController
import WardenProtocol

/// The lock identity and presentation settings in warden.yaml: a key readable by others, a certificate for another
/// lock or another key, and bad transport settings each stop start-up naming the key.
@Suite struct IdentityConfigTests {
    let dir = TempDir()
    let authority = P256.Signing.PrivateKey()
    let device = P256.Signing.PrivateKey()

    func config(
        lockID: String = "lock-1",
        certFor certLock: String = "lock-1",
        certKey: P256.Signing.PrivateKey? = nil,
        keyMode: mode_t = 0o600,
        presentation: String = "{unix: p.sock}",
        extra: String = ""
    ) throws -> String {
        _ = dir.write("authority.pub", authority.publicKey.pemRepresentation)
        let keyPath = dir.write("device.pem", device.pemRepresentation)
        chmod(keyPath, keyMode)
        let cert = try LockCertificate.issue(
            lockID: certLock,
            deviceKey: (certKey ?? device).publicKey,
            notBefore: 0,
            notAfter: 4_000_000_000,
            keyID: "org",
            authority: authority
        )
        _ = dir.write("lock.cert", Data(cert.bytes).base64EncodedString())
        return dir.write(
            "w.yaml",
            """
            door: {id: front, lock_id: \(lockID)}
            identity: {device_key: device.pem, lock_certificate: lock.cert}
            presentation: \(presentation)
            board: \(repoRoot.appendingPathComponent("boards/sim.yaml").path)
            site: {time_zone: UTC}
            authority_keys: {org: authority.pub}
            \(extra)
            """
        )
    }

    func message(_ path: String) -> String {
        do {
            _ = try WardenConfig.load(path: path)
            return "accepted"
        } catch { return error.description }
    }

    @Test func goodIdentityLoads() throws {
        let c = try WardenConfig.load(path: try config())
        #expect(c.identity?.certificate.lockID == "lock-1")
        #expect(c.presentation.unixPath?.hasSuffix("/p.sock") == true)
        #expect(c.presentation.ble)
    }

    @Test func privateKeyReadableByOthersIsRefused() throws {
        #expect(message(try config(keyMode: 0o644)).contains("identity.device_key: "))
        #expect(message(try config(keyMode: 0o644)).contains("is readable by others (mode 644); run chmod 600 on it"))
    }

    @Test func certificateMustMatchLockAndKey() throws {
        #expect(
            message(try config(certFor: "lock-2")).contains(
                "identity.lock_certificate: the certificate is for lock 'lock-2', this door is 'lock-1'"
            )
        )
        #expect(
            message(try config(certKey: P256.Signing.PrivateKey())).contains(
                "the certificate is for another device key"
            )
        )
    }

    @Test func metricsSettingsAreCheckedAndResolved() throws {
        let good = try WardenConfig.load(path: try config(extra: "metrics: {text_file: m.prom, interval_s: 5}"))
        #expect(
            good.metrics
                == MetricsSettings(textFile: dir.url.appendingPathComponent("m.prom").path, interval: .seconds(5))
        )
        #expect(try WardenConfig.load(path: try config()).metrics == nil, "no metrics section, no metrics file")
        #expect(message(try config(extra: "metrics: {interval_s: 5}")).contains("metrics.text_file"))
        #expect(
            message(try config(extra: "metrics: {text_file: m.prom, interval_s: 0}")).contains("metrics.interval_s")
        )
        #expect(
            message(try config(extra: "metrics: {text_file: m.prom, port: 9100}")).contains("metrics.port: unknown key")
        )
    }

    /// Where the updater and the support-bundle helper find their hand-overs: beside the control socket by default,
    /// each overridable, relative paths resolved against the config's folder, unknown keys refused by name.
    @Test func softwareFilesDefaultBesideTheControlSocketAndAreOverridable() throws {
        let defaults = try WardenConfig.load(path: try config(extra: "control_socket: run/control.sock")).software
        let run = dir.url.appendingPathComponent("run").path
        #expect(defaults.updateOrder == run + "/update-order.json")
        #expect(defaults.supportOrder == run + "/support-order.json")
        #expect(defaults.versionFile == "/usr/share/warden/version")
        #expect(defaults.updateReport == "/var/lib/warden-board/update.json")
        let set = try WardenConfig.load(
            path: try config(
                extra: "software: {version_file: v, update_order: o.json, update_report: r.json, support_order: s.json}"
            )
        ).software
        #expect(set.versionFile == dir.url.appendingPathComponent("v").path)
        #expect(set.updateOrder == dir.url.appendingPathComponent("o.json").path)
        #expect(set.updateReport == dir.url.appendingPathComponent("r.json").path)
        #expect(set.supportOrder == dir.url.appendingPathComponent("s.json").path)
        #expect(message(try config(extra: "software: {channel: beta}")).contains("software.channel: unknown key"))
    }

    /// `sync:`: the broker address, the org id, mutual TLS (both files or neither, the key owner-only), the renewal
    /// lead and the broker password, each refused by name; a good section loads with its defaults.
    @Test func syncSettingsNameTheBadKey() throws {
        _ = dir.write("ca.pem", "ca")
        _ = dir.write("client.crt", "cert")
        let key = dir.write("client.key", "key")
        chmod(key, 0o600)
        let tls = "tls: {ca: ca.pem, cert: client.crt, key: client.key"
        let good = try WardenConfig.load(
            path: try config(extra: "sync: {org: acme, broker: mq.example:8883, \(tls), renew_before_s: 86400}}")
        )
        let sync = try #require(good.sync)
        #expect(sync.org == "acme" && sync.host == "mq.example" && sync.port == 8883)
        #expect(sync.renewBefore == 86_400)
        #expect(sync.certFile == dir.path("client.crt") && sync.keyFile == key)
        #expect(sync.keepAlive == .seconds(30) && sync.stateInterval == .seconds(300))
        let unset = try WardenConfig.load(path: try config(extra: "sync: {org: acme, broker: mq:1883, \(tls)}}"))
        #expect(unset.sync?.renewBefore == nil, "unset: a third of the certificate's life")
        func refused(_ section: String) throws -> String { message(try config(extra: "sync: {\(section)}")) }
        #expect(try refused("org: acme, broker: mq:8883, \(tls), renew_before_s: 30}").contains("renew_before_s"))
        #expect(try refused("org: acme, broker: mq:8883, \(tls), renew_after_s: 30}").contains("renew_after_s"))
        #expect(try refused("org: Acme!, broker: mq:8883").contains("sync.org: 'Acme!' is not an org id"))
        #expect(try refused("org: acme, broker: mq").contains("'mq' is not HOST:PORT"))
        #expect(
            try refused("org: acme, broker: mq:8883, tls: {ca: ca.pem, cert: client.crt}").contains(
                "give both cert and key"
            )
        )
        chmod(key, 0o644)
        #expect(try refused("org: acme, broker: mq:8883, \(tls)}").contains("run chmod 600"))
        #expect(
            try refused("org: acme, broker: mq:8883, username: b1, password_file: nope").contains(
                "sync.password_file: cannot read"
            )
        )
    }

    @Test func badPresentationSettings() throws {
        #expect(
            message(try config(presentation: "{tcp: localhost}")).contains(
                "presentation.tcp: 'localhost' is not HOST:PORT"
            )
        )
        #expect(
            message(try config(presentation: "{ble_psm: 5}")).contains(
                "presentation.ble_psm: 5 is out of range (128...255)"
            )
        )
        #expect(message(try config(presentation: "{max_session: 3}")).contains("presentation.max_session: unknown key"))
        #expect(
            message(try config(presentation: "{ble_adapter: usb0}")).contains(
                "presentation.ble_adapter: 'usb0' is not a controller name like hci0"
            )
        )
        #expect(
            message(try config(presentation: "{ble_adapter: hci16}")).contains(
                "presentation.ble_adapter: 'hci16' is not a controller name"
            )
        )
        #expect(
            message(try config(presentation: "{ble_adapter: hci01}")).contains(
                "presentation.ble_adapter: 'hci01' is not a controller name"
            )
        )
    }

    @Test func bleAdapterIsOptional() throws {
        #expect(
            try WardenConfig.load(path: try config(presentation: "{ble_adapter: hci1}")).presentation.bleAdapter
                == "hci1"
        )
        #expect(try WardenConfig.load(path: try config(presentation: "{ble_psm: 0x81}")).presentation.bleAdapter == nil)
    }
}
