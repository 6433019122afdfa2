import Foundation
import GRDB
import Synchronization
import WardenCore
import WardenWire

/// The hash-chained audit journal with group commit. `append` assigns the sequence number and chain hash in memory
/// and returns at once (the door never waits for a disk); a flusher writes everything pending in one transaction,
/// so records become durable within one fsync (milliseconds) and a burst costs one fsync, not one per record.
///
/// A power cut can lose only records still pending (appended, not yet committed); SQLite's WAL guarantees the file
/// is never half-written, and the chain of what is on disk always verifies (docs/audit.md).
public final class AuditJournal: Sendable {
    public struct Retention: Sendable, Equatable {
        /// Keep at most this many acknowledged records.
        public var maxRecords: Int
        /// Drop acknowledged records older than this.
        public var maxAge: TimeInterval
        /// The store is "hard-full" past this many records: then even unacknowledged ones go, with a gap record.
        public var hardMax: Int

        public init(maxRecords: Int = 200_000, maxAge: TimeInterval = 90 * 86_400, hardMax: Int = 1_000_000) {
            self.maxRecords = maxRecords
            self.maxAge = maxAge
            self.hardMax = hardMax
        }
    }

    private struct State {
        var lastSeq: Int64
        var lastHash: [UInt8]
        var pending: [AuditRecord] = []
        var durableSeq: Int64
        var waiters: [(Int64, CheckedContinuation<Void, Never>)] = []
        var lastError: String?
        /// Records not kept because the backlog was full while the store could not write (summarised by a gap).
        var dropped = 0
        var droppedFromMillis: Int64 = 0
        var droppedToMillis: Int64 = 0
    }

    private let db: WardenDatabase
    private let state: Mutex<State>
    private let wake: AsyncStream<Void>.Continuation
    private let wakeStream: AsyncStream<Void>
    public let retention: Retention
    /// Called after each commit with the highest durable sequence number (tests, metrics, crash harness).
    private let onDurable: @Sendable (Int64) -> Void
    /// At most this many records wait in memory while the store cannot write; later ones are counted, not kept, and
    /// one `gap` record says how many and when once writing works again.
    public let maxBacklog: Int
    private let faultHandler = Mutex<(@Sendable (String?) -> Void)?>(nil)

    public init(
        database: WardenDatabase,
        retention: Retention = Retention(),
        maxBacklog: Int = 10_000,
        onDurable: @escaping @Sendable (Int64) -> Void = { _ in }
    ) throws(StoreError) {
        self.db = database
        self.retention = retention
        self.maxBacklog = maxBacklog
        self.onDurable = onDurable
        let last: (Int64, [UInt8])
        do {
            last = try database.pool.read { db in
                if let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") {
                    return (row["seq"] as Int64, [UInt8](row["hash"] as Data))
                }
                return (0, AuditRecord.genesisHash)
            }
        } catch { throw StoreError(.io, "reading the audit journal's tail: \(error)") }
        state = Mutex(State(lastSeq: last.0, lastHash: last.1, durableSeq: last.0))
        (wakeStream, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Appends in memory and returns the chained record; durable shortly after (see `run`). While the store cannot
    /// write and `maxBacklog` records already wait, the record is counted instead of kept (returned with seq 0, so
    /// live watchers still see it) and a `gap` record summarises the loss once writing works again.
    @discardableResult
    public func append(_ event: AuditEvent, timeMillis: Int64) -> AuditRecord {
        let record = state.withLock { s in
            if s.pending.count >= maxBacklog {
                if s.dropped == 0 { s.droppedFromMillis = timeMillis }
                s.dropped += 1
                s.droppedToMillis = timeMillis
                return AuditRecord(seq: 0, timeMillis: timeMillis, event: event, prevHash: s.lastHash)
            }
            Self.chainGap(&s, at: timeMillis)
            return Self.chain(&s, event, timeMillis)
        }
        wake.yield()
        return record
    }

    private static func chain(_ s: inout State, _ event: AuditEvent, _ timeMillis: Int64) -> AuditRecord {
        let r = AuditRecord(seq: s.lastSeq + 1, timeMillis: timeMillis, event: event, prevHash: s.lastHash)
        s.lastSeq = r.seq
        s.lastHash = r.hash
        s.pending.append(r)
        return r
    }

    /// Chains the gap record for dropped records, if any (room permitting).
    private static func chainGap(_ s: inout State, at timeMillis: Int64) {
        guard s.dropped > 0 else { return }
        let detail =
            "\(s.dropped) records were not stored while the journal could not write (\(s.droppedFromMillis)-\(s.droppedToMillis) ms)"
        _ = chain(&s, AuditEvent(.gap, reason: "journal_write_failed", detail: detail), timeMillis)
        s.dropped = 0
    }

    /// `handler` is called once when writing starts failing (with the error) and once when it works again (nil).
    public func onWriteFault(_ handler: @escaping @Sendable (String?) -> Void) {
        faultHandler.withLock { $0 = handler }
    }

    /// Records counted but not kept since the store stopped writing.
    public var droppedCount: Int { state.withLock { $0.dropped } }

    public var lastSeq: Int64 { state.withLock { $0.lastSeq } }
    public var durableSeq: Int64 { state.withLock { $0.durableSeq } }
    public var pendingCount: Int { state.withLock { $0.pending.count } }
    public var lastWriteError: String? { state.withLock { $0.lastError } }

    /// The flusher. Runs until the task is cancelled, then drains what is pending.
    public func run() async {
        for await _ in wakeStream {
            await drain()
            if Task.isCancelled { break }
        }
        await drain()
    }

    /// Stops `run` after a final drain.
    public func finish() { wake.finish() }

    /// Waits until everything appended so far is committed.
    public func flush() async {
        let target = lastSeq
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.durableSeq >= target { return true }
                s.waiters.append((target, c))
                return false
            }
            if ready { c.resume() }
        }
        wake.yield()
    }

    /// `flush`, giving up after `timeout` (a store that cannot write must not hold up shutdown; what is pending is
    /// lost with the process, as after a power cut). Returns whether everything was committed.
    @discardableResult
    public func flush(timeout: Duration) async -> Bool {
        let target = lastSeq
        let done = Task { await self.flush() }
        let deadline = ContinuousClock.now + timeout
        while durableSeq < target && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        done.cancel()
        return durableSeq >= target
    }

    /// Commits pending records; on failure keeps them pending and retries with back-off (200 ms doubling to 2 s),
    /// reporting the failure once and the recovery once.
    func drain() async {
        var backoff = Duration.milliseconds(200)
        while true {
            let batch = state.withLock { $0.pending }
            if batch.isEmpty { return }
            do {
                try await db.pool.write { db in
                    let stmt = try db.makeStatement(
                        sql: """
                            INSERT INTO audit(seq, time_ms, kind, door, credential_id, user_id, reason, detail, prev_hash, hash)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """
                    )
                    for r in batch {
                        try stmt.execute(arguments: [
                            r.seq, r.timeMillis, r.event.kind.rawValue, r.event.door, r.event.credentialID,
                            r.event.userID, r.event.reason, r.event.detail, Data(r.prevHash), Data(r.hash),
                        ])
                    }
                }
            } catch {
                let first = state.withLock { s -> Bool in
                    defer { s.lastError = "\(error)" }
                    return s.lastError == nil
                }
                if first { faultHandler.withLock { $0 }?("\(error)") }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
                continue
            }
            backoff = .milliseconds(200)
            let top = batch.last!.seq
            let (ready, recovered) = state.withLock { s -> ([CheckedContinuation<Void, Never>], Bool) in
                s.pending.removeFirst(batch.count)
                s.durableSeq = top
                let recovered = s.lastError != nil
                s.lastError = nil
                if let last = batch.last { Self.chainGap(&s, at: last.timeMillis) }
                let (done, rest) = (s.waiters.filter { $0.0 <= top }, s.waiters.filter { $0.0 > top })
                s.waiters = rest
                return (done.map { $0.1 }, recovered)
            }
            if recovered { faultHandler.withLock { $0 }?(nil) }
            onDurable(top)
            for c in ready { c.resume() }
        }
    }

    // MARK: reading, acknowledging, retention

    public func records(after seq: Int64 = 0, limit: Int = 1000) throws(StoreError) -> [AuditRecord] {
        do {
            return try db.pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                    arguments: [seq, limit]
                ).map(Self.record)
            }
        } catch { throw StoreError(.io, "reading audit records: \(error)") }
    }

    static func record(_ row: Row) -> AuditRecord {
        AuditRecord(
            seq: row["seq"],
            timeMillis: row["time_ms"],
            event: AuditEvent(
                AuditKind(rawValue: row["kind"]) ?? .malformed,
                door: row["door"],
                credentialID: row["credential_id"],
                userID: row["user_id"],
                reason: row["reason"],
                detail: row["detail"]
            ),
            prevHash: [UInt8](row["prev_hash"] as Data),
            hash: [UInt8](row["hash"] as Data)
        )
    }

    /// Verifies the whole stored chain in pages of 5,000 records: memory stays constant whatever the journal's size.
    public func verify() throws -> AuditChain.Report {
        var verifier = AuditChain.Verifier()
        var after: Int64 = 0
        while true {
            let page = try records(after: after, limit: 5000)
            guard let last = page.last else { break }
            for r in page { try verifier.feed(r) }
            after = last.seq
        }
        return verifier.report
    }

    /// The highest sequence number the cloud has acknowledged (0 if none): the upload resumes after it, after a
    /// reconnect or a reboot alike. Records below a pruned gap count as acknowledged.
    public func acknowledgedSeq() throws(StoreError) -> Int64 {
        do {
            return try db.pool.read { db in
                if let oldest = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM audit WHERE acked = 0") {
                    return oldest - 1
                }
                return try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit") ?? 0
            }
        } catch { throw StoreError(.io, "reading the acknowledged position: \(error)") }
    }

    /// The stored hash of record `seq`, nil if it is not (or no longer) stored.
    public func hash(of seq: Int64) throws(StoreError) -> [UInt8]? {
        do {
            return try db.pool.read { db in
                try Data.fetchOne(db, sql: "SELECT hash FROM audit WHERE seq = ?", arguments: [seq]).map { [UInt8]($0) }
            }
        } catch { throw StoreError(.io, "reading audit record \(seq): \(error)") }
    }

    /// The cloud has committed every record up to `seq` (cumulative, like TCP acks).
    public func acknowledge(upTo seq: Int64) throws(StoreError) {
        do {
            try db.pool.write { db in
                try db.execute(sql: "UPDATE audit SET acked = 1 WHERE seq <= ? AND acked = 0", arguments: [seq])
            }
        } catch {
            throw StoreError(.io, "acknowledging audit records: \(error)")
        }
    }

    /// Applies retention: acknowledged records past count or age go; past `hardMax` the oldest unacknowledged
    /// records go too and a `gap` record says which. Returns the number deleted.
    @discardableResult
    public func prune(now: Date) throws(StoreError) -> Int {
        let cutoff = Int64((now.timeIntervalSince1970 - retention.maxAge) * 1000)
        do {
            let (deleted, gap) = try db.pool.write { db -> (Int, (Int64, Int64)?) in
                let maxSeq = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit") ?? 0
                try db.execute(
                    sql: "DELETE FROM audit WHERE acked = 1 AND (time_ms < ? OR seq <= ?)",
                    arguments: [cutoff, maxSeq - Int64(retention.maxRecords)]
                )
                var deleted = db.changesCount
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM audit") ?? 0
                guard count > retention.hardMax else { return (deleted, nil) }
                let excess = count - retention.hardMax + 1  // +1 leaves room for the gap record
                let first = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM audit") ?? 0
                let last = first + Int64(excess) - 1
                try db.execute(sql: "DELETE FROM audit WHERE seq <= ?", arguments: [last])
                deleted += db.changesCount
                return (deleted, (first, last))
            }
            if let (a, b) = gap {
                append(
                    AuditEvent(.gap, reason: "store_full", detail: "pruned unacknowledged records \(a)-\(b)"),
                    timeMillis: Int64(now.timeIntervalSince1970 * 1000)
                )
            }
            return deleted
        } catch { throw StoreError(.io, "pruning the audit journal: \(error)") }
    }

    public func count() throws(StoreError) -> Int {
        do { return try db.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit") ?? 0 } } catch {
            throw StoreError(.io, "counting audit records: \(error)")
        }
    }
}

extension AuditJournal {
    /// Verifies the newest `last` records (start-up check; `verify()` does the whole journal).
    public func verifyTail(last: Int) throws -> AuditChain.Report {
        let from = max(0, lastSeq - Int64(last))
        return try AuditChain.verify(try records(after: from, limit: last))
    }
}
