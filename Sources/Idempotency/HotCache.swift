import GatewayHTTP
import GatewayStore
import Synchronization

/// Recently completed records kept in memory so that a replay storm never touches the store.
///
/// Bounded by an estimate of the bytes it holds (bodies, header fields, keys and a fixed per-entry overhead);
/// the least recently used entries are evicted first. An entry is served only while `now < expiresAt`, the
/// expiry of its record. Entries are removed by ``invalidate(_:)`` (admin delete). A record deleted by another
/// process (the `keys delete` command, another gateway on the same store) is not seen here by itself: with a
/// ``maxAge``, an entry older than that asks its first user to check it against the store
/// (``Held/claimRefresh(now:)``), which then renews or invalidates it; it is served meanwhile.
public final class HotCache: Sendable {
    /// A cached completed record: what a replay needs.
    public struct Entry: Sendable {
        /// The fingerprint of the request that produced the response (a different one gets 422).
        public var fingerprint: [UInt8]
        /// When the record expires.
        public var expiresAt: Timestamp
        /// The replay, ready to send (stored status, headers, `Idempotent-Replayed: true`, body).
        public var replay: GatewayResponse
        /// The fingerprint's input (method, path, fingerprinted headers, body), when small: a retry is then checked
        /// by comparing bytes instead of hashing it.
        public var fingerprintInput: [UInt8]?

        public init(fingerprint: [UInt8], expiresAt: Timestamp, replay: GatewayResponse, fingerprintInput: [UInt8]? = nil) {
            self.fingerprint = fingerprint
            self.expiresAt = expiresAt
            self.replay = replay
            self.fingerprintInput = fingerprintInput
        }
    }

    /// The fixed cost charged per entry on top of its contents (the held object, the response and field storage,
    /// the dictionary slot and LRU node, the key's strings). Measured: 1M small entries (a 35-byte body, 3 fields)
    /// took about 1.4 KB each, which this and ``fieldOverhead`` now account for.
    public static let entryOverhead = 768
    /// The cost charged per stored header field on top of its name and value.
    public static let fieldOverhead = 96

    /// An entry as held: one object, so that a hit hands out one reference instead of copying the entry's
    /// arrays and strings (a retain each) under the lock.
    package final class Held: Sendable {
        package let entry: Entry
        /// When the entry is next due to be checked against the store; `Int64.max` while a check runs (or never).
        private let refreshAfter: Atomic<Int64>

        init(_ entry: Entry, refreshAfter: Timestamp) {
            self.entry = entry
            self.refreshAfter = Atomic(refreshAfter)
        }

        /// True for exactly one caller once the entry is due for a check; that caller checks it and then calls
        /// ``HotCache/renew(_:now:)`` or ``HotCache/invalidate(_:)``.
        package func claimRefresh(now: Timestamp) -> Bool {
            let due = refreshAfter.load(ordering: .relaxed)
            guard now >= due else { return false }
            return refreshAfter.compareExchange(expected: due, desired: .max, ordering: .relaxed).exchanged
        }

        fileprivate func renew(until next: Timestamp) { refreshAfter.store(next, ordering: .relaxed) }
    }

    private struct Node {
        var key: RecordKey
        var held: Held
        var cost: Int
    }

    /// A node's neighbours in the LRU list (kept apart from the nodes, so that moving an entry to the front on
    /// every hit touches two integers, not the entry's strings and arrays).
    private struct Link {
        var previous: Int
        var next: Int
    }

    /// An LRU list threaded through an array of nodes (indices, no per-node allocation); `head` is the most
    /// recently used.
    private struct State {
        var nodes: [Node?] = []
        var links: [Link] = []
        var free: [Int] = []
        var index: [RecordKey: Int] = [:]
        var head = -1
        var tail = -1
        var bytes = 0
        /// Bumped by every ``HotCache/invalidate(_:)``: an insert prepared before a deletion must not land after it.
        var generation: UInt64 = 0

        mutating func unlink(_ i: Int) {
            let link = links[i]
            if link.previous >= 0 { links[link.previous].next = link.next } else { head = link.next }
            if link.next >= 0 { links[link.next].previous = link.previous } else { tail = link.previous }
        }

        mutating func pushFront(_ i: Int) {
            links[i] = Link(previous: -1, next: head)
            if head >= 0 { links[head].previous = i }
            head = i
            if tail < 0 { tail = i }
        }

        mutating func remove(_ i: Int) {
            unlink(i)
            let node = nodes[i]!
            index[node.key] = nil
            bytes -= node.cost
            nodes[i] = nil
            free.append(i)
        }
    }

    /// The byte budget.
    public let capacity: Int
    /// How long (milliseconds) after it was cached (or last checked) an entry is due to be checked against the
    /// store, when inserted with a `now`; nil for never.
    public let maxAge: Int64?
    private let state = Mutex(State())

    public init(capacity: Int, maxAge: Int64? = nil) {
        self.capacity = capacity
        self.maxAge = maxAge
    }

    /// The live entry for `key`, marking it most recently used; expired entries are dropped.
    public func entry(for key: RecordKey, now: Timestamp) -> Entry? {
        held(for: key, now: now)?.entry
    }

    /// ``entry(for:now:)`` without copying the entry.
    package func held(for key: RecordKey, now: Timestamp) -> Held? {
        guard capacity > 0 else { return nil }
        return state.withLock { state in
            guard let i = state.index[key] else { return nil }
            let held = state.nodes[i].unsafelyUnwrapped.held
            guard now < held.entry.expiresAt else {
                state.remove(i)
                return nil
            }
            if state.head != i {
                state.unlink(i)
                state.pushFront(i)
            }
            return held
        }
    }

    /// Adds or replaces the entry for `key`, evicting least recently used entries beyond the budget. An entry
    /// larger than the whole budget is not cached.
    /// - Parameters:
    ///   - generation: the ``generation`` read before the store answered; when an invalidation happened since (an
    ///     admin delete), the entry is stale and is not inserted.
    ///   - now: the time of the insert, from which ``maxAge`` counts (without it, the entry is never due a check).
    public func insert(
        _ entry: Entry, for key: RecordKey, ifGeneration generation: UInt64? = nil, now: Timestamp? = nil
    ) {
        let cost = Self.cost(of: entry, key: key)
        guard cost <= capacity else { return }
        var refreshAfter = Int64.max
        if let maxAge, let now { refreshAfter = now + maxAge }
        let held = Held(entry, refreshAfter: refreshAfter)
        state.withLock { state in
            if let generation, generation != state.generation { return }
            if let existing = state.index[key] { state.remove(existing) }
            let node = Node(key: key, held: held, cost: cost)
            let i: Int
            if let slot = state.free.popLast() {
                i = slot
                state.nodes[i] = node
            } else {
                i = state.nodes.count
                state.nodes.append(node)
                state.links.append(Link(previous: -1, next: -1))
            }
            state.index[key] = i
            state.pushFront(i)
            state.bytes += cost
            while state.bytes > capacity, state.tail >= 0 { state.remove(state.tail) }
        }
    }

    /// Marks `held` checked at `now`: it is next due ``maxAge`` later.
    package func renew(_ held: Held, now: Timestamp) {
        held.renew(until: maxAge.map { now + $0 } ?? .max)
    }

    /// Forgets `key` (admin delete).
    public func invalidate(_ key: RecordKey) {
        state.withLock { state in
            state.generation &+= 1
            if let i = state.index[key] { state.remove(i) }
        }
    }

    /// Changes with every invalidation; pass it back to ``insert(_:for:ifGeneration:)``.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Forgets everything.
    public func removeAll() {
        state.withLock { state in
            let generation = state.generation &+ 1
            state = State()
            state.generation = generation
        }
    }

    /// The estimated bytes held.
    public var totalBytes: Int { state.withLock { $0.bytes } }

    /// The number of entries held.
    public var count: Int { state.withLock { $0.index.count } }

    /// The estimated memory an entry costs.
    public static func cost(of entry: Entry, key: RecordKey) -> Int {
        var cost = entryOverhead + entry.replay.body.count + entry.fingerprint.count + (entry.fingerprintInput?.count ?? 0)
        cost += key.key.utf8.count + key.scope.utf8.count
        for field in entry.replay.head.headerFields {
            cost += field.name.rawName.utf8.count + field.value.utf8.count + fieldOverhead
        }
        return cost
    }
}
