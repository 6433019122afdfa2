import Logging
import Mosquitto
import Synchronization
import WardenWire

/// Audit batches from the consumer's subscription into PostgreSQL with group commit: each worker takes every batch
/// waiting (up to `maxMessages`) into one transaction, so one fsync covers many boards' batches, then acknowledges
/// each board once, with its last committed record. Boards are sharded over the workers by device id, so one
/// board's batches stay in order on one worker while the workers' transactions overlap.
public final class AuditIngester: Sendable {
    struct Item: Sendable {
        var topics: DeviceTopics
        var batch: AuditBatch
    }

    final class Worker: Sendable {
        let queue = Mutex<[Item]>([])
        let wake: AsyncStream<Void>
        let wakeSink: AsyncStream<Void>.Continuation
        init() { (wake, wakeSink) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1)) }
    }

    let store: CloudStore
    let client: MQTTClient
    let logger: Logger
    let maxMessages: Int
    let workers: [Worker]

    public init(store: CloudStore, client: MQTTClient, logger: Logger, workers: Int = 2, maxMessages: Int = 64) {
        self.store = store
        self.client = client
        self.logger = logger
        self.maxMessages = maxMessages
        self.workers = (0..<max(1, workers)).map { _ in Worker() }
    }

    /// Queues a decoded batch on its board's worker.
    func enqueue(_ topics: DeviceTopics, _ batch: AuditBatch) {
        var hasher = Hasher()
        hasher.combine(topics.org)
        hasher.combine(topics.dev)
        let worker = workers[Int(UInt(bitPattern: hasher.finalize()) % UInt(workers.count))]
        worker.queue.withLock { $0.append(Item(topics: topics, batch: batch)) }
        worker.wakeSink.yield()
    }

    /// Runs the workers until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for worker in workers {
                group.addTask {
                    for await _ in worker.wake {
                        while true {
                            let items = worker.queue.withLock { q -> [Item] in
                                let n = min(q.count, self.maxMessages)
                                let taken = Array(q.prefix(n))
                                q.removeFirst(n)
                                return taken
                            }
                            if items.isEmpty { break }
                            await self.ingest(items)
                        }
                    }
                }
            }
            await withTaskCancellationHandler {
                await group.waitForAll()
            } onCancel: {
                for w in workers { w.wakeSink.finish() }
            }
        }
    }

    /// How long one group's transaction may take before the worker gives up on it and moves on. A PostgreSQL
    /// restart under load was seen to leave a query waiting for ever on a connection the server had closed; the
    /// boards re-send whatever was not acknowledged, so abandoning the wait loses nothing.
    static let transactionBound: Duration = .seconds(20)

    private func ingest(_ items: [Item]) async {
        let results: [CloudStore.IngestResult?]
        do {
            let store = self.store
            let batch = items.map { CloudStore.IngestItem(org: $0.topics.org, device: $0.topics.dev, batch: $0.batch) }
            results = try await Self.bounded(Self.transactionBound) { try await store.ingest(batch) }
        } catch {
            // Nothing is acknowledged: every board re-sends after its acknowledgement timeout.
            logger.error("audit batches not stored", metadata: ["batches": "\(items.count)", "error": "\(error)"])
            return
        }
        var lastAck: [DeviceTopics: AuditAck] = [:]
        guard results.count == items.count else { return }
        var order: [DeviceTopics] = []
        for (item, result) in zip(items, results) {
            guard let result else {
                logger.warning("audit from an unregistered device dropped", metadata: ["device": "\(item.topics.dev)"])
                continue
            }
            if result.flagged > 0 {
                logger.error(
                    "audit records failed the chain check; stored with flags",
                    metadata: ["device": "\(item.topics.dev)", "flagged": "\(result.flagged)"]
                )
            }
            if let ack = result.ack {
                if lastAck[item.topics] == nil { order.append(item.topics) }
                lastAck[item.topics] = ack
            }
        }
        for topics in order {
            guard let ack = lastAck[topics] else { continue }
            do {
                try client.send(
                    topic: topics.topic(.auditAck),
                    payload: WireJSON.encode(ack),
                    properties: MQTTProperties(messageExpiry: 86_400)
                )
            } catch {
                logger.warning(
                    "cannot queue an audit acknowledgement",
                    metadata: ["device": "\(topics.dev)", "error": "\(error)"]
                )
            }
        }
    }

    /// The result of `body`, or a timeout error after `limit` (the body's task is then cancelled and left behind).
    static func bounded<T: Sendable>(
        _ limit: Duration,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let once = Once(continuation)
            let timer = Task {
                try await Task.sleep(for: limit)
                _ = once.resume(.failure(CloudError(.database, "the database did not answer within \(limit)")))
            }
            let work = Task {
                do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
                timer.cancel()  // no sleeping timer left behind per message
            }
            Task {
                _ = await timer.result
                if !work.isCancelled { work.cancel() }
            }
        }
    }
}

/// A continuation resumed by whichever of two tasks comes first.
final class Once<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>
    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }

    /// Resumes with `result` if nothing did yet; returns whether this call did.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        guard
            let c = continuation.withLock({ c in
                defer { c = nil }
                return c
            })
        else { return false }
        c.resume(with: result)
        return true
    }
}
