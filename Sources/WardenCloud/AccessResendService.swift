import Logging
import ServiceLifecycle

/// Re-sends, every `interval`, what online boards lack of their access list, until each reports the door's current
/// version in its retained state: a lost update or a board that was offline catches up without anyone asking.
public struct AccessResendService: Service {
    let operations: CloudOperations
    let interval: Duration
    let logger: Logger

    public init(operations: CloudOperations, interval: Duration, logger: Logger) {
        self.operations = operations
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await PeriodicPass.run(every: interval, logger: logger, what: "access-list re-send") {
            let n = try await operations.resendBehind()
            if n > 0 { logger.info("re-sent access-list updates", metadata: ["devices": "\(n)"]) }
        }
    }
}
