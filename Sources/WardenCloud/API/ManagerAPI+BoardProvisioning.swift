import Foundation
import Hummingbird
import WardenWire

/// The board's own calls (docs/provisioning.md): no manager is signed in; the enrollment token, or the board's
/// signature with the key its certificate names, is the credential.
extension ManagerAPI {
    func registerBoardProvisioning(_ t: inout RouteTable) {
        t.on(.post, "/v1/board/provision") { r, c in
            let provisioner = try self.provisioner()
            let input = try await APIJSON.decode(BoardProvisioning.ProvisionInput.self, from: r, context: c)
            return try APIJSON.response(try await provisioner.provision(input, now: Date()), status: .created)
        }
        t.on(.post, "/v1/board/deprovision") { r, c in
            let provisioner = try self.provisioner()
            let input = try await APIJSON.decode(BoardProvisioning.DeprovisionInput.self, from: r, context: c)
            return try APIJSON.response(try await provisioner.deprovision(input, now: Date()))
        }
    }

    func provisioner() throws(Problem) -> DeviceProvisioner {
        guard let p = operations.provisioner else {
            throw Problem(
                .serviceUnavailable,
                "this warden-cloud provisions no boards: its config has no provisioning section (docs/provisioning.md)"
            )
        }
        return p
    }
}
