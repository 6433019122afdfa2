/// Where wardend writes its Prometheus metrics: a text file for node_exporter's textfile collector, so the board
/// opens no listening port and spends no memory on an HTTP server for them.
public struct MetricsSettings: Sendable, Equatable {
    public var textFile: String
    public var interval: Duration

    public init(textFile: String, interval: Duration = .seconds(15)) {
        self.textFile = textFile
        self.interval = interval
    }
}
