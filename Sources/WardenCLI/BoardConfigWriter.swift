import Foundation
import WardenWire

/// The warden.yaml a provisioned board runs with, from the cloud's answer: door and lock id, the board profile,
/// the site's time zone and holidays, the trusted authority keys, the lock identity and the cloud link over
/// mutual TLS. Paths of the keys are relative to the file (its folder moves with `--root`).
enum BoardConfigWriter {
    struct Presentation {
        /// nil: BLE (a real board); a path: the development transport on a Unix socket (simulated boards, tests).
        var unixSocket: String?
    }

    static func render(
        _ answer: BoardProvisioning.Provisioned,
        layout: BoardLayout,
        boardProfile: String,
        presentation: Presentation,
        now: Date
    ) -> String {
        let keys = answer.authorityKeys.map { "\($0.kid): keys/authority-\($0.kid).pem" }.joined(separator: ", ")
        let holidays = answer.holidays.map { "\"\($0)\"" }.joined(separator: ", ")
        let present =
            presentation.unixSocket.map { "{ ble: false, unix: \($0) }" } ?? "{ ble: true }"
        return """
            # Written by `wardenctl provision` at \(ISO8601DateFormatter().string(from: now)) for \(answer.device)
            # (org \(answer.org), site \(answer.site), door \(answer.door)). Provision again rather than edit it;
            # check it with `wardend --config \(layout.config) --check`.
            door: { id: \(answer.door), lock_id: \(answer.device) }
            board: \(boardProfile)
            site: { time_zone: \(answer.timeZone), holidays: [\(holidays)] }
            authority_keys: { \(keys) }
            identity: { device_key: keys/lock.key, lock_certificate: keys/lock.cert }
            presentation: \(present)
            state_dir: \(layout.stateDirectory)
            control_socket: \(layout.controlSocket)
            sync:
              org: \(answer.org)
              broker: "\(answer.broker)"
              tls: { ca: keys/broker-ca.pem, cert: keys/broker.pem, key: keys/broker.key }

            """
    }
}
