import Logging
import Metrics
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
        var payload: [UInt8]
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
    let metrics = IngestMetrics()
    private let queued = Atomic<Int>(0)

    public init(store: CloudStore, client: MQTTClient, logger: Logger, workers: Int = 2, maxMessages: Int = 64) {
        self.store = store
        self.client = client
        self.logger = logger
        self.maxMessages = maxMessages
        self.workers = (0..<max(1, workers)).map { _ in Worker() }
    }

    /// Queues a board's audit message on its worker, which decodes it (the decoding, most of the consumer's own
    /// CPU, then runs on every worker at once instead of on the one task reading the subscription).
    func enqueue(_ topics: DeviceTopics, _ payload: [UInt8]) {
        var hasher = Hasher()
        hasher.combine(topics.org)
        hasher.combine(topics.dev)
        let worker = workers[Int(UInt(bitPattern: hasher.finalize()) % UInt(workers.count))]
        worker.queue.withLock { $0.append(Item(topics: topics, payload: payload)) }
        metrics.queued.record(queued.add(1, ordering: .relaxed).newValue)
        worker.wakeSink.yield()
    }

    /// Runs the workers until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for worker in workers {
                group.addTask {
                    for await _ in worker.wake {
                        // Two stages: the next group is decoded while the previous one's transaction runs; the
                        // transactions themselves stay one at a time, so a board's batches commit in order.
                        var storing: Task<Void, Never>?
                        while true {
                            let items = self.take(from: worker)
                            if items.isEmpty { break }
                            var group = self.decode(items)
                            await storing?.value
                            // What arrived during that transaction joins this group (up to the bound).
                            let more = self.take(from: worker, upTo: self.maxMessages - items.count)
                            if !more.isEmpty {
                                let extra = self.decode(more)
                                group.items += extra.items
                                group.decoded += extra.decoded
                            }
                            let ready = group
                            storing = Task { await self.store(ready.items, ready.decoded) }
                        }
                        await storing?.value
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

    /// Up to `limit` waiting messages of one worker, in arrival order.
    private func take(from worker: Worker, upTo limit: Int? = nil) -> [Item] {
        let limit = limit ?? maxMessages
        guard limit > 0 else { return [] }
        let items = worker.queue.withLock { q -> [Item] in
            let n = min(q.count, limit)
            let taken = Array(q.prefix(n))
            q.removeFirst(n)
            return taken
        }
        if !items.isEmpty { metrics.queued.record(queued.subtract(items.count, ordering: .relaxed).newValue) }
        return items
    }

    struct Decoded: Sendable {
        var items: [Item] = []
        var decoded: [CloudStore.IngestItem] = []
    }

    /// The messages that follow the contract, decoded; the others are logged and dropped (not acknowledged).
    private func decode(_ messages: [Item]) -> Decoded {
        var out = Decoded()
        out.decoded.reserveCapacity(messages.count)
        for message in messages {
            do {
                let batch = try AuditBatch.decode(message.payload)
                out.decoded.append(
                    CloudStore.IngestItem(org: message.topics.org, device: message.topics.dev, batch: batch)
                )
                out.items.append(message)
            } catch {
                metrics.refused.increment()
                logger.warning(
                    "message refused",
                    metadata: ["topic": "\(message.topics.topic(.audit))", "error": "\(error)"]
                )
            }
        }
        return out
    }

    /// One group in one transaction, then one acknowledgement per board.
    private func store(_ items: [Item], _ decoded: [CloudStore.IngestItem]) async {
        guard !items.isEmpty else { return }
        let store = self.store
        var results: [CloudStore.IngestResult??]
        do {
            let batch = decoded
            let started = ContinuousClock.now
            let stored = try await Self.bounded(Self.transactionBound) { try await store.ingest(batch) }
            metrics.committed(batch, results: stored, took: .now - started)
            results = stored.map { .some($0) }
        } catch let error as CloudError where error.code == .invalid {
            // The database refused the group (a batch it cannot take, or a row stored outside the position rule):
            // each batch alone, on the tolerant path, so one board's bad batch holds back no other board.
            metrics.failedTransactions.increment()
            logger.warning(
                "the database refused a group of audit batches; storing them one by one",
                metadata: ["batches": "\(items.count)", "error": "\(error)"]
            )
            results = []
            for one in decoded {
                do {
                    let started = ContinuousClock.now
                    let stored = try await Self.bounded(Self.transactionBound) {
                        try await store.ingest([one], bulk: false)
                    }
                    metrics.committed([one], results: stored, took: .now - started)
                    results.append(stored.first ?? nil)
                } catch {
                    metrics.failedTransactions.increment()
                    logger.error(
                        "an audit batch was refused by the database; not acknowledged",
                        metadata: ["device": "\(one.device)", "error": "\(error)"]
                    )
                    results.append(nil)
                }
            }
        } catch {
            metrics.failedTransactions.increment()
            // Nothing is acknowledged: every board re-sends after its acknowledgement timeout.
            logger.error("audit batches not stored", metadata: ["batches": "\(items.count)", "error": "\(error)"])
            return
        }
        var lastAck: [DeviceTopics: AuditAck] = [:]
        guard results.count == items.count else { return }
        var order: [DeviceTopics] = []
        for (item, outcome) in zip(items, results) {
            guard let outcome else { continue }  // refused by the database: logged above
            guard let result = outcome else {
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
            metrics.acks.increment()
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
