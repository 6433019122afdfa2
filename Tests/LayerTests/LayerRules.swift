import Foundation

/// Reads Package.swift's targets and every source file's imports, and says which layer rules are broken
/// (docs/architecture.md, "Layer rules"). Text-based on purpose: it needs no build and no SwiftPM API, and runs on
/// a synthetic package in its own tests so that each rule is seen to fail.
struct LayerRules {
    struct Target: Equatable {
        var name: String
        var kind: String
        var dependencies: Set<String>
        var path: String
    }

    /// Modules from the toolchain and the OS, never declared in Package.swift.
    static let system: Set<String> = [
        "Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Musl", "Darwin", "Dispatch",
        "Synchronization", "Testing",
        "XCTest", "_Concurrency", "os",
    ]
    /// Modules that do I/O, log, or wrap C: none of them in the pure layers.
    static let pureForbiddenPrefixes = ["C", "GRDB", "NIO", "Logging", "Metrics", "Glibc", "Musl", "Yams", "POSIXIO"]
    static let pureModules: Set<String> = ["WardenWire", "WardenCore", "WardenProtocol", "WardenKey"]
    /// What the phone library and the protocol may not use: anything Linux-only or board-only.
    static let phoneForbidden: Set<String> = [
        "Glibc", "Musl", "POSIXIO", "BlueZ", "GPIOD", "Mosquitto", "WardenController", "WardenStore", "GRDB",
    ]
    static let boardRoots: Set<String> = ["wardend"]
    /// Cloud code the board must never link, and door code the cloud must never link.
    static func isCloud(_ module: String) -> Bool {
        module.hasPrefix("WardenCloud") || module == "warden-cloud" || module.hasPrefix("Hummingbird")
            || module.hasPrefix("PostgresNIO") || module == "OpenAPIRuntime"
    }
    static let boardOnly: Set<String> = [
        "WardenController", "WardenStore", "GPIOD", "BlueZ", "CGPIOD", "CBluetooth", "CSystemd",
    ]
    /// Never on the board: the authority's signing library (the board only verifies).
    static let notOnBoard: Set<String> = ["WardenAuthority", "JWTKit"]
    /// The door decides offline: its modules never link the network. libmosquitto reaches the board only through
    /// the sync module (WardenSync), which wardend composes beside the controller.
    static let offlineModules: Set<String> = ["WardenController", "WardenStore", "WardenCore", "WardenProtocol"]
    static let network: Set<String> = ["Mosquitto", "CMosquitto", "WardenSync"]

    var targets: [String: Target]
    /// Imports per target (module names, system modules included).
    var imports: [String: Set<String>]

    /// Parses `.target(...)`, `.executableTarget(...)`, `.testTarget(...)` and `.systemLibrary(...)` calls.
    static func parseTargets(_ manifest: String) -> [String: Target] {
        var variables: [String: String] = [:]
        let varPattern = try! NSRegularExpression(
            pattern: #"let (\w+): Target\.Dependency = \.product\(name: "([^"]+)""#
        )
        let ns = manifest as NSString
        for m in varPattern.matches(in: manifest, range: NSRange(location: 0, length: ns.length)) {
            variables[ns.substring(with: m.range(at: 1))] = ns.substring(with: m.range(at: 2))
        }
        var out: [String: Target] = [:]
        let callPattern = try! NSRegularExpression(pattern: #"\.(target|executableTarget|testTarget|systemLibrary)\("#)
        for m in callPattern.matches(in: manifest, range: NSRange(location: 0, length: ns.length)) {
            let kind = ns.substring(with: m.range(at: 1))
            let body = balanced(manifest, from: m.range.location + m.range.length - 1, open: "(", close: ")")
            guard let name = firstMatch(#"name: "([^"]+)""#, in: body) else { continue }
            var deps = Set<String>()
            if let r = body.range(of: "dependencies: [") {
                let list = balanced(
                    body,
                    from: body.distance(from: body.startIndex, to: r.upperBound) - 1,
                    open: "[",
                    close: "]"
                )
                let stripped = list.replacingOccurrences(
                    of: #"\.product\(name: "([^"]+)"[^)]*\)"#,
                    with: "PRODUCT:$1",
                    options: .regularExpression
                )
                for token in stripped.components(separatedBy: CharacterSet(charactersIn: "[], \n")) where !token.isEmpty
                {
                    if token.hasPrefix("PRODUCT:") {
                        deps.insert(String(token.dropFirst(8)))
                    } else if token.hasPrefix("\"") {
                        deps.insert(token.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
                    } else if let v = variables[token] {
                        deps.insert(v)
                    } else if token.hasPrefix("//") || !token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                        continue  // comment words or punctuation
                    }
                }
                // Comments inside the list may contain quoted words; they are rare and would show up as a
                // declared-but-not-imported finding, which is the safe direction.
            }
            let defaultRoot = kind == "testTarget" ? "Tests" : "Sources"
            let path = firstMatch(#"path: "([^"]+)""#, in: body) ?? "\(defaultRoot)/\(name)"
            out[name] = Target(name: name, kind: kind, dependencies: deps, path: path)
        }
        return out
    }

    /// Module names a Swift file imports.
    static func parseImports(_ source: String) -> Set<String> {
        var out = Set<String>()
        for line in source.split(separator: "\n", omittingEmptySubsequences: true) {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard
                let m = firstMatch(
                    #"^(?:@[\w()]+\s+)*import\s+(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?(\w+)"#,
                    in: t
                )
            else { continue }
            out.insert(m)
        }
        return out
    }

    /// Every broken rule, one line each.
    func violations() -> [String] {
        var found: [String] = []
        for (name, t) in targets.sorted(by: { $0.key < $1.key }) where t.kind != "systemLibrary" {
            let used = (imports[name] ?? []).subtracting(Self.system)
            for m in used.subtracting(t.dependencies).sorted() {
                found.append("\(name) imports \(m) but Package.swift does not declare it")
            }
            for d in t.dependencies.subtracting(used).sorted() {
                found.append("\(name) declares \(d) in Package.swift but no file imports it")
            }
            let all = imports[name] ?? []
            if Self.pureModules.contains(name) {
                for m in all.sorted()
                where Self.pureForbiddenPrefixes.contains(where: { m.hasPrefix($0) }) && m != "Crypto" {
                    found.append(
                        "\(name) is a pure layer and must not import \(m) (no C module, GRDB, NIO, logging or I/O)"
                    )
                }
            }
            if name == "WardenKey" || name == "WardenProtocol" {
                for m in all.intersection(Self.phoneForbidden).sorted() {
                    found.append(
                        "\(name) is embedded in phone apps and must not import \(m) (Linux-only or board code)"
                    )
                }
            }
        }
        for root in Self.boardRoots.sorted() where targets[root] != nil {
            let closure = dependencyClosure(of: root)
            for m in closure.sorted() where Self.isCloud(m) || Self.notOnBoard.contains(m) {
                found.append(
                    "the board (\(root)) links \(m): board code never links cloud code or the authority's signer"
                )
            }
        }
        for name in Self.offlineModules.sorted() where targets[name] != nil {
            for m in dependencyClosure(of: name).intersection(Self.network).sorted() {
                found.append("\(name) links \(m): the door decides offline; only WardenSync talks to the network")
            }
        }
        for (name, _) in targets.sorted(by: { $0.key < $1.key }) where Self.isCloud(name) {
            for m in dependencyClosure(of: name).intersection(Self.boardOnly).sorted() {
                found.append("the cloud (\(name)) links \(m): cloud code never links door code")
            }
        }
        return found
    }

    /// Every module `name` links, through declared dependencies.
    func dependencyClosure(of name: String) -> Set<String> {
        var seen = Set<String>()
        var stack = [name]
        while let n = stack.popLast() {
            for d in targets[n]?.dependencies ?? [] where seen.insert(d).inserted { stack.append(d) }
        }
        return seen
    }

    static func balanced(_ s: String, from offset: Int, open: Character, close: Character) -> String {
        let chars = Array(s)
        var depth = 0
        var i = offset
        var inString = false
        while i < chars.count {
            let c = chars[i]
            if c == "\"" { inString.toggle() }
            if !inString {
                if c == open { depth += 1 }
                if c == close {
                    depth -= 1
                    if depth == 0 { return String(chars[(offset + 1)..<i]) }
                }
            }
            i += 1
        }
        return String(chars[(offset + 1)...])
    }

    static func firstMatch(_ pattern: String, in s: String) -> String? {
        let re = try! NSRegularExpression(pattern: pattern)
        let ns = s as NSString
        guard let m = re.firstMatch(in: s, range: NSRange(location: 0, length: ns.length)) else { return nil }
        return ns.substring(with: m.range(at: 1))
    }
}
