import Synchronization

/// A ``KeyStore`` in a dictionary, with the same semantics as ``SQLiteKeyStore`` and no persistence.
///
/// For tests and fast unit tests of the engine. Every operation is one critical section of a `Mutex`, so each is
/// atomic like a transaction. (`--store :memory:` uses ``SQLiteKeyStore`` in memory instead, to run the real SQL.)
public final class InMemoryKeyStore: KeyStore {
    private struct State {
        var records: [RecordKey: IdempotencyRecord] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    public func claim(_ claim: Claim, likelyNew: Bool) async throws(KeyStoreError) -> ClaimOutcome {
        try withOpenState { (state: inout State) throws(KeyStoreError) -> ClaimOutcome in
            let fresh = IdempotencyRecord(
                key: claim.key, state: .inFlight, fingerprint: claim.fingerprint, owner: claim.owner,
                createdAt: claim.now, leaseExpiresAt: claim.leaseExpiresAt, expiresAt: claim.expiresAt,
                method: claim.method, path: claim.path, response: nil)
            guard var existing = state.records[claim.key] else {
                state.records[claim.key] = fresh
                return .claimed(tookOver: false)
            }
            switch existing.state {
            case .completed where existing.expiresAt <= claim.now:
                state.records[claim.key] = fresh
                return .claimed(tookOver: false)
            case .completed:
                return .completed(existing)
            case .inFlight where existing.expiresAt <= claim.now:
                state.records[claim.key] = fresh
                return .claimed(tookOver: false)
            case .inFlight where existing.leaseExpiresAt <= claim.now && existing.fingerprint == claim.fingerprint:
                // Takeover keeps createdAt, replaces owner, fingerprint, lease and request line.
                existing.owner = claim.owner
                existing.fingerprint = claim.fingerprint
                existing.leaseExpiresAt = claim.leaseExpiresAt
                existing.expiresAt = claim.expiresAt
                existing.method = claim.method
                existing.path = claim.path
                state.records[claim.key] = existing
                return .claimed(tookOver: true)
            case .inFlight:
                return .inFlight(existing)
            }
        }
    }

    public func complete(_ key: RecordKey, owner: OwnerToken, response: StoredResponse, expiresAt: Timestamp)
        async throws(KeyStoreError) -> Bool
    {
        try withOpenState { (state: inout State) throws(KeyStoreError) -> Bool in
            guard var record = state.records[key], record.owner == owner, record.state == .inFlight else { return false }
            record.state = .completed
            record.response = response
            record.expiresAt = expiresAt
            state.records[key] = record
            return true
        }
    }

    public func release(_ key: RecordKey, owner: OwnerToken) async throws(KeyStoreError) -> Bool {
        try withOpenState { (state: inout State) throws(KeyStoreError) -> Bool in
            guard let record = state.records[key], record.owner == owner, record.state == .inFlight else { return false }
            state.records[key] = nil
            return true
        }
    }

    public func record(for key: RecordKey) async throws(KeyStoreError) -> IdempotencyRecord? {
        try withOpenState { (state: inout State) throws(KeyStoreError) -> IdempotencyRecord? in state.records[key] }
    }

    public func delete(_ key: RecordKey) async throws(KeyStoreError) -> Bool {
        try withOpenState { (state: inout State) throws(KeyStoreError) -> Bool in
            state.records.removeValue(forKey: key) != nil
        }
    }

    public func deleteExpired(now: Timestamp, limit: Int) async throws(KeyStoreError) -> Int {
        try withOpenState { (state: inout State) throws(KeyStoreError) -> Int in
            guard limit > 0 else { return 0 }
            // Oldest expiry first, like the SQLite sweep.
            let victims = state.records.values.filter { $0.expiresAt <= now }
                .sorted { $0.expiresAt < $1.expiresAt }
                .prefix(limit)
            for record in victims { state.records[record.key] = nil }
            return victims.count
        }
    }

    public func forEachKey(_ body: (RecordKey) throws -> Void) async throws(KeyStoreError) {
        // A snapshot, so `body` runs outside the lock (it may call back into the store).
        let keys = try withOpenState { (state: inout State) throws(KeyStoreError) -> [RecordKey] in
            Array(state.records.keys)
        }
        for key in keys {
            do {
                try body(key)
            } catch let error as KeyStoreError {
                throw error
            } catch {
                throw .database(code: SQLiteResultCode.abort.rawValue, message: "forEachKey stopped: \(error)")
            }
        }
    }

    public func statistics(now: Timestamp) async throws(KeyStoreError) -> KeyStoreStatistics {
        try withOpenState { (state: inout State) throws(KeyStoreError) -> KeyStoreStatistics in
            var statistics = KeyStoreStatistics(inFlight: 0, completed: 0, expired: 0, fileBytes: 0)
            for record in state.records.values {
                if record.expiresAt <= now {
                    statistics.expired += 1
                } else if record.state == .inFlight {
                    statistics.inFlight += 1
                    if record.leaseExpiresAt <= now { statistics.leaseEnded += 1 }
                } else {
                    statistics.completed += 1
                }
            }
            return statistics
        }
    }

    public func close() async {
        state.withLock { $0.closed = true }
    }

    private func withOpenState<Result: Sendable>(
        _ body: (inout State) throws(KeyStoreError) -> Result
    ) throws(KeyStoreError) -> Result {
        try state.withLock { (state: inout State) throws(KeyStoreError) -> Result in
            guard !state.closed else { throw KeyStoreError.closed }
            return try body(&state)
        }
    }
}
