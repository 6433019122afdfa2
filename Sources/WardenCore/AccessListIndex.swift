/// The board's access list in memory, so a decision never waits on SQLite (the indexed lookup cost 27-30 µs alone
/// and more inside a decision; docs/benchmarks.md). SQLite stays the store of record; this is loaded from it at start and changed by the same
/// access-list updates, right after they commit (`DoorController.applyAccessList`).
///
/// Memory: 100,000 listed credentials as Strings would cost several MB against a 40 MB RSS budget, so:
/// - **revoked** ids are kept exactly (their UTF-8 bytes, compared byte for byte like SQLite's `TEXT` primary key);
///   there are few of them;
/// - **active** ids are kept only as keyed 64-bit hashes in one sorted array, one entry per active id (a multiset, so
///   two ids with the same hash stay two entries): 8 bytes each, 0.8 MB for 100,000.
///
/// What a hash collision can do (why this is safe):
/// - `.revoked` comes only from the exact set, so a collision can never make a revoked credential look active or
///   unlisted: revocation is exact.
/// - A collision can make an *unlisted* id look `.active` when its hash equals an active id's. That matters only in
///   allow-list mode (`requireListed`); in the default mode active and unlisted are treated alike. Even there the
///   credential must still carry a valid authority signature, be in scope, in its validity window and schedule, with a
///   holder proof; and its `jti` is chosen by the authority, not by the presenter. The hash is Swift's `Hasher`
///   (SipHash-1-3) keyed at random per process, so nobody can search for a colliding id offline: the chance for a
///   given credential is at most (active ids) / 2^64, about 5e-15 with 100,000 active ids.
/// - The other direction (an active id looking unlisted) cannot happen: removals take out exactly the entry the
///   store says was active (the store reports each id's previous status, `Change.before`).
/// An index that could not be loaded is `nil` at the owner, and the owner treats every id as revoked (fail closed).
public struct AccessListIndex: Sendable {
    /// One id's status before and after an applied access-list update, as the store saw it in the same transaction.
    public struct Change: Sendable, Equatable {
        public var id: String
        public var before: AccessListStatus
        public var after: AccessListStatus

        public init(id: String, before: AccessListStatus, after: AccessListStatus) {
            self.id = id
            self.before = before
            self.after = after
        }
    }

    /// How an update changed the list: a whole new list (reload the index from the store) or these ids.
    public enum Update: Sendable, Equatable {
        case replaced
        case changed([Change])
    }

    /// Keyed hashes of active ids, sorted ascending, duplicates kept.
    private var active: [UInt64]
    /// Revoked ids by hash; each bucket holds the exact ids (almost always one).
    private var revoked: [UInt64: [String]]
    public private(set) var revokedCount: Int

    public init() {
        active = []
        revoked = [:]
        revokedCount = 0
    }

    /// Builds the index from every stored (id, status) row: `feed` calls `add` once per row (from a database cursor,
    /// so the ids are never all held as Strings at once).
    public init(
        capacity: Int = 0,
        _ feed: (_ add: (_ id: String, _ status: AccessListStatus) -> Void) throws -> Void
    ) rethrows {
        var active: [UInt64] = []
        active.reserveCapacity(capacity)
        var revokedIDs: [String] = []
        try feed { id, status in
            switch status {
            case .active: active.append(Self.hash(id))
            case .revoked: revokedIDs.append(id)
            case .unlisted: break
            }
        }
        active.sort()
        self.init()
        self.active = active
        for id in revokedIDs { insertRevoked(id) }
    }

    /// Builds the index from (id, status) pairs (tests, small lists).
    public init(rows: some Sequence<(String, AccessListStatus)>) {
        self.init { add in
            for (id, status) in rows { add(id, status) }
        }
    }

    public var activeCount: Int { active.count }

    /// The status the store would report for `id` (up to the collision case described above).
    public func status(of id: String) -> AccessListStatus {
        let h = Self.hash(id)
        if revokedCount > 0, let bucket = revoked[h], bucket.contains(where: { $0.utf8.elementsEqual(id.utf8) }) {
            return .revoked
        }
        let i = activePosition(h)
        return i < active.count && active[i] == h ? .active : .unlisted
    }

    /// Applies the per-id changes of a committed delta.
    public mutating func apply(_ changes: [Change]) {
        var remove: [UInt64] = []
        var add: [UInt64] = []
        for c in changes where c.before != c.after {
            let h = Self.hash(c.id)
            switch c.before {
            case .active: remove.append(h)
            case .revoked: removeRevoked(c.id, hash: h)
            case .unlisted: break
            }
            switch c.after {
            case .active: add.append(h)
            case .revoked: insertRevoked(c.id)
            case .unlisted: break
            }
        }
        guard !remove.isEmpty || !add.isEmpty else { return }
        remove.sort()
        add.sort()
        // One merge pass: drop one occurrence per removed hash, merge in the added ones. O(n + k log k).
        var out: [UInt64] = []
        out.reserveCapacity(active.count - remove.count + add.count)
        var r = 0
        var a = 0
        for h in active {
            while r < remove.count && remove[r] < h { r += 1 }  // a removal the index did not hold: nothing to drop
            if r < remove.count && remove[r] == h {
                r += 1
                continue
            }
            while a < add.count && add[a] <= h {
                out.append(add[a])
                a += 1
            }
            out.append(h)
        }
        out.append(contentsOf: add[a...])
        active = out
    }

    // MARK: private

    private func activePosition(_ h: UInt64) -> Int {
        var lo = 0
        var hi = active.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if active[mid] < h { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private mutating func insertRevoked(_ id: String) {
        let h = Self.hash(id)
        if revoked[h, default: []].contains(where: { $0.utf8.elementsEqual(id.utf8) }) { return }
        revoked[h, default: []].append(id)
        revokedCount += 1
    }

    private mutating func removeRevoked(_ id: String, hash h: UInt64) {
        guard var bucket = revoked[h], let i = bucket.firstIndex(where: { $0.utf8.elementsEqual(id.utf8) }) else {
            return
        }
        bucket.remove(at: i)
        revoked[h] = bucket.isEmpty ? nil : bucket
        revokedCount -= 1
    }

    /// `Hasher` (SipHash) of the id's UTF-8 bytes under this process's random key. Bytes, not `String` hashing,
    /// which would equate canonically equivalent spellings that SQLite keeps apart.
    static func hash(_ id: String) -> UInt64 {
        var hasher = Hasher()
        let done: Void? = id.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { Array(id.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }
}
