import Foundation
import Testing

/// The layer rules hold in this repository, and each rule is seen to fail on a package that breaks it.
@Suite struct LayerRuleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func load() throws -> LayerRules {
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let targets = LayerRules.parseTargets(manifest)
        var imports: [String: Set<String>] = [:]
        for (name, t) in targets where t.kind != "systemLibrary" {
            let dir = root.appendingPathComponent(t.path)
            guard let files = FileManager.default.enumerator(atPath: dir.path) else { continue }
            var set = Set<String>()
            for case let f as String in files where f.hasSuffix(".swift") {
                set.formUnion(
                    LayerRules.parseImports(try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8))
                )
            }
            imports[name] = set
        }
        return LayerRules(targets: targets, imports: imports)
    }

    @Test func thisRepositoryKeepsItsLayers() throws {
        let rules = try Self.load()
        #expect(rules.targets.count >= 15, "Package.swift parsed into \(rules.targets.count) targets")
        #expect(rules.targets["WardenCore"]?.dependencies == ["WardenWire", "Crypto"])
        let v = rules.violations()
        #expect(v.isEmpty, "\(v.joined(separator: "\n"))")
    }

    static let manifest = """
        let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
        .target(name: "WardenCore", dependencies: ["WardenWire", crypto]),
        .target(name: "WardenWire", dependencies: [crypto]),
        .target(name: "WardenProtocol", dependencies: [crypto]),
        .target(name: "WardenKey", dependencies: ["WardenProtocol"]),
        .target(name: "WardenAuthority", dependencies: ["WardenWire", .product(name: "JWTKit", package: "jwt-kit")]),
        .target(name: "WardenController", dependencies: ["WardenCore", "GPIOD"]),
        .target(name: "GPIOD", dependencies: ["CGPIOD"]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod"),
        .target(name: "WardenCloud", dependencies: ["WardenWire"]),
        .executableTarget(name: "wardend", dependencies: ["WardenController"]),
        """
    static let clean: [String: Set<String>] = [
        "WardenCore": ["WardenWire", "Crypto", "Foundation"], "WardenWire": ["Crypto"], "WardenProtocol": ["Crypto"],
        "WardenKey": ["WardenProtocol"], "WardenAuthority": ["WardenWire", "JWTKit"],
        "WardenController": ["WardenCore", "GPIOD", "Glibc"], "GPIOD": ["CGPIOD"], "WardenCloud": ["WardenWire"],
        "wardend": ["WardenController"],
    ]

    func violations(_ change: (inout LayerRules) -> Void) -> [String] {
        var rules = LayerRules(targets: LayerRules.parseTargets(Self.manifest), imports: Self.clean)
        change(&rules)
        return rules.violations()
    }

    @Test func theSyntheticPackageIsClean() {
        #expect(violations { _ in } == [])
    }

    @Test func aPureModuleImportingLoggingOrACModuleFails() {
        let v = violations {
            $0.imports["WardenCore"]!.insert("Logging")
            $0.targets["WardenCore"]!.dependencies.insert("Logging")
        }
        #expect(
            v == ["WardenCore is a pure layer and must not import Logging (no C module, GRDB, NIO, logging or I/O)"]
        )
        let c = violations {
            $0.imports["WardenProtocol"]!.insert("CGPIOD")
            $0.targets["WardenProtocol"]!.dependencies.insert("CGPIOD")
        }
        #expect(c.contains { $0.hasPrefix("WardenProtocol is a pure layer and must not import CGPIOD") })
    }

    @Test func thePhoneLibraryImportingGlibcFails() {
        let v = violations { $0.imports["WardenKey"]!.insert("Glibc") }
        #expect(v.contains("WardenKey is embedded in phone apps and must not import Glibc (Linux-only or board code)"))
    }

    @Test func anUndeclaredOrUnusedDependencyFails() {
        #expect(
            violations { $0.imports["WardenWire"]!.insert("GRDB") }.contains(
                "WardenWire imports GRDB but Package.swift does not declare it"
            )
        )
        #expect(
            violations { $0.imports["WardenKey"] = [] } == [
                "WardenKey declares WardenProtocol in Package.swift but no file imports it"
            ]
        )
    }

    @Test func theBoardLinkingTheAuthorityOrTheCloudFails() {
        let v = violations {
            $0.targets["WardenController"]!.dependencies.insert("WardenAuthority")
            $0.imports["WardenController"]!.insert("WardenAuthority")
        }
        #expect(v.contains { $0.hasPrefix("the board (wardend) links JWTKit") })
        #expect(v.contains { $0.hasPrefix("the board (wardend) links WardenAuthority") })
        let cloud = violations {
            $0.targets["WardenController"]!.dependencies.insert("WardenCloud")
            $0.imports["WardenController"]!.insert("WardenCloud")
        }
        #expect(cloud.contains { $0.hasPrefix("the board (wardend) links WardenCloud") })
    }

    @Test func theDoorLinkingTheNetworkFails() {
        let v = violations {
            $0.targets["WardenController"]!.dependencies.insert("Mosquitto")
            $0.imports["WardenController"]!.insert("Mosquitto")
        }
        #expect(
            v.contains(
                "WardenController links Mosquitto: the door decides offline; only WardenSync talks to the network"
            )
        )
    }

    @Test func theCloudLinkingDoorCodeFails() {
        let v = violations {
            $0.targets["WardenCloud"]!.dependencies.insert("WardenController")
            $0.imports["WardenCloud"]!.insert("WardenController")
        }
        #expect(v.contains("the cloud (WardenCloud) links WardenController: cloud code never links door code"))
        #expect(v.contains("the cloud (WardenCloud) links GPIOD: cloud code never links door code"))
    }
}
