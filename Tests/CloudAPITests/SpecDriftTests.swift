import Foundation
import Testing
import WardenCloud
import Yams

extension CloudAPISuite {
    /// docs/openapi.yaml and the server's routes describe the same API: every operation the spec lists is served,
    /// and every route the server registers is in the spec (schemathesis then checks the answers against it).
    @Suite struct SpecDriftTests {
        static func specOperations() throws -> Set<String> {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
            let spec = try #require(try Yams.load(yaml: text) as? [String: Any])
            let paths = try #require(spec["paths"] as? [String: Any])
            var out = Set<String>()
            for (path, item) in paths {
                for method in (item as? [String: Any] ?? [:]).keys
                where ["get", "put", "post", "patch", "delete"].contains(method) {
                    out.insert("\(method.uppercased()) \(path)")
                }
            }
            return out
        }

        @Test func everyRouteIsInTheSpecAndEverySpecOperationIsServed() async throws {
            let fx = try await APIFixture()
            let served = Set(fx.routes.map(\.description))
            let documented = try Self.specOperations().subtracting(["GET /healthz", "GET /metrics"])
            #expect(served.subtracting(documented).sorted() == [], "served but not in docs/openapi.yaml")
            #expect(documented.subtracting(served).sorted() == [], "in docs/openapi.yaml but not served")
            #expect(served.count >= 38)
        }
    }
}
