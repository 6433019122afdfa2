/// The samples of a Prometheus text exposition (`name{labels} value` lines; comments skipped), as the tests read a
/// scrape: series with its labels as written -> value.
enum PrometheusText {
    static func parse(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            out[String(line[..<space])] = value
        }
        return out
    }
}
