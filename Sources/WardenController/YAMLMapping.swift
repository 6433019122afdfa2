import Yams

/// Strict reading of one YAML mapping: every key must be known, every value the right type, and errors carry the
/// file, line and dotted key path. Yams' Codable decoder silently ignores unknown keys, and a misspelt key in a
/// door's wiring must stop start-up, not be ignored.
struct YAMLMapping {
    let file: String
    let path: String
    let node: Node
    private let entries: [String: Node]

    init(file: String, path: String, node: Node, allowed: Set<String>) throws(ConfigError) {
        self.file = file
        self.path = path
        self.node = node
        guard let mapping = node.mapping else {
            throw ConfigError(
                file: file,
                line: node.mark?.line,
                key: path,
                message: "expected a mapping of keys to values"
            )
        }
        var entries: [String: Node] = [:]
        for (k, v) in mapping {
            guard let key = k.string else {
                throw ConfigError(file: file, line: k.mark?.line, key: path, message: "keys must be plain strings")
            }
            guard allowed.contains(key) else {
                throw ConfigError(
                    file: file,
                    line: k.mark?.line,
                    key: Self.join(path, key),
                    message: "unknown key; allowed here: \(allowed.sorted().joined(separator: ", "))"
                )
            }
            guard entries[key] == nil else {
                throw ConfigError(
                    file: file,
                    line: k.mark?.line,
                    key: Self.join(path, key),
                    message: "key appears twice"
                )
            }
            entries[key] = v
        }
        self.entries = entries
    }

    static func parse(file: String, text: String, allowed: Set<String>) throws(ConfigError) -> YAMLMapping {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw ConfigError(file: file, key: "", message: "not valid YAML: \(error)")
        }
        guard let node else { throw ConfigError(file: file, key: "", message: "the file is empty") }
        return try YAMLMapping(file: file, path: "", node: node, allowed: allowed)
    }

    static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : "\(a).\(b)" }

    func has(_ key: String) -> Bool { entries[key] != nil }

    func fail(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: (entries[key] ?? node).mark?.line, key: Self.join(path, key), message: message)
    }

    private func value(_ key: String) throws(ConfigError) -> Node {
        guard let v = entries[key] else { throw fail(key, "missing (required)") }
        return v
    }

    func string(_ key: String) throws(ConfigError) -> String {
        guard let s = try value(key).scalar?.string, !s.isEmpty else { throw fail(key, "expected a non-empty string") }
        return s
    }

    func string(_ key: String, default d: String) throws(ConfigError) -> String { has(key) ? try string(key) : d }
    func optionalString(_ key: String) throws(ConfigError) -> String? { has(key) ? try string(key) : nil }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let node = try value(key)
        guard let i = node.int else { throw fail(key, "'\(node.scalar?.string ?? "?")' is not a whole number") }
        guard range.contains(i) else {
            throw fail(key, "\(i) is out of range (\(range.lowerBound)...\(range.upperBound))")
        }
        return i
    }

    func int(_ key: String, in range: ClosedRange<Int>, default d: Int) throws(ConfigError) -> Int {
        has(key) ? try int(key, in: range) : d
    }

    func bool(_ key: String, default d: Bool) throws(ConfigError) -> Bool {
        guard has(key) else { return d }
        let node = try value(key)
        guard let b = node.bool else { throw fail(key, "'\(node.scalar?.string ?? "?")' is not true or false") }
        return b
    }

    func oneOf<T: RawRepresentable<String>>(
        _ key: String,
        _: T.Type,
        all: [T],
        default d: T? = nil
    ) throws(ConfigError) -> T {
        if !has(key), let d { return d }
        let s = try string(key)
        guard let v = T(rawValue: s) else {
            throw fail(key, "'\(s)' is not one of: \(all.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    func strings(_ key: String) throws(ConfigError) -> [String] {
        guard has(key) else { return [] }
        guard let seq = try value(key).sequence else { throw fail(key, "expected a list") }
        var out: [String] = []
        for item in seq {
            guard let s = item.scalar?.string, !s.isEmpty else {
                throw fail(key, "every item must be a non-empty string")
            }
            out.append(s)
        }
        return out
    }

    func mapping(_ key: String, allowed: Set<String>) throws(ConfigError) -> YAMLMapping {
        try YAMLMapping(file: file, path: Self.join(path, key), node: try value(key), allowed: allowed)
    }

    func optionalMapping(_ key: String, allowed: Set<String>) throws(ConfigError) -> YAMLMapping? {
        has(key) ? try mapping(key, allowed: allowed) : nil
    }

    /// The raw entries of a free-form mapping (e.g. authority keys by key id).
    func stringMap(_ key: String) throws(ConfigError) -> [String: String] {
        guard has(key) else { return [:] }
        guard let m = try value(key).mapping else { throw fail(key, "expected a mapping") }
        var out: [String: String] = [:]
        for (k, v) in m {
            guard let ks = k.string, let vs = v.scalar?.string else {
                throw fail(key, "keys and values must be strings")
            }
            out[ks] = vs
        }
        return out
    }
}
