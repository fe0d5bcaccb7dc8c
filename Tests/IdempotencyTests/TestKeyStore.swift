import GatewayStore
import Synchronization

/// An in-memory ``KeyStore`` double for the engine tests: a Mutex'd dictionary implementing the protocol's
/// contract, with call counters and hooks to inject errors.
final class TestKeyStore: KeyStore {
    struct State {
        var records: [RecordKey: IdempotencyRecord] = [:]
        var calls: [String: Int] = [:]
        /// When set, every operation in `failing` (all when `nil`) throws this error.
        var failure: KeyStoreError?
        var failing: Set<String>?
        /// `complete` calls refused because the owner no longer held the record.
        var rejectedCompletes = 0
        var closed = false
    }

    let state = Mutex(State())

    /// Makes operations throw `error` (`nil` heals the store). `operations` limits it to some operation names.
    func fail(with error: KeyStoreError?, operations: Set<String>? = nil) {
        state.withLock {
            $0.failure = error
            $0.failing = operations
        }
    }

    func calls(_ operation: String) -> Int { state.withLock { $0.calls[operation, default: 0] } }
    var totalCalls: Int { state.withLock { $0.calls.values.reduce(0, +) } }
    func resetCalls() { state.withLock { $0.calls = [:] } }
    var rejectedCompletes: Int { state.withLock { $0.rejectedCompletes } }
    var count: Int { state.withLock { $0.records.count } }

    /// Puts a record in place directly (test setup).
    func insert(_ record: IdempotencyRecord) { state.withLock { $0.records[record.key] = record } }

    private func enter(_ operation: String) throws(KeyStoreError) {
        let error: KeyStoreError? = state.withLock { state in
            state.calls[operation, default: 0] += 1
            if state.closed { return .closed }
            guard let failure = state.failure else { return nil }
            if let failing = state.failing, !failing.contains(operation) { return nil }
            return failure
        }
        if let error { throw error }
    }

    func claim(_ claim: Claim, likelyNew: Bool) async throws(KeyStoreError) -> ClaimOutcome {
        try enter("claim")
        return state.withLock { state in
            let fresh = IdempotencyRecord(
                key: claim.key, state: .inFlight, fingerprint: claim.fingerprint, owner: claim.owner,
                createdAt: claim.now, leaseExpiresAt: claim.leaseExpiresAt, expiresAt: claim.expiresAt,
                method: claim.method, path: claim.path, response: nil)
            guard let existing = state.records[claim.key] else {
                state.records[claim.key] = fresh
                return .claimed(tookOver: false)
            }
            switch existing.state {
            case .completed where existing.expiresAt > claim.now:
                return .completed(existing)
            case .completed:
                state.records[claim.key] = fresh
                return .claimed(tookOver: false)
            case .inFlight where existing.expiresAt <= claim.now:
                state.records[claim.key] = fresh
                return .claimed(tookOver: false)
            case .inFlight where existing.leaseExpiresAt > claim.now || existing.fingerprint != claim.fingerprint:
                return .inFlight(existing)
            case .inFlight:
                var takenOver = fresh
                takenOver.createdAt = existing.createdAt
                state.records[claim.key] = takenOver
                return .claimed(tookOver: true)
            }
        }
    }

    func complete(_ key: RecordKey, owner: OwnerToken, response: StoredResponse, expiresAt: Timestamp)
        async throws(KeyStoreError) -> Bool
    {
        try enter("complete")
        return state.withLock { state in
            guard var record = state.records[key], record.state == .inFlight, record.owner == owner else {
                state.rejectedCompletes += 1
                return false
            }
            record.state = .completed
            record.response = response
            record.expiresAt = expiresAt
            state.records[key] = record
            return true
        }
    }

    func release(_ key: RecordKey, owner: OwnerToken) async throws(KeyStoreError) -> Bool {
        try enter("release")
        return state.withLock { state in
            guard let record = state.records[key], record.state == .inFlight, record.owner == owner else {
                return false
            }
            state.records[key] = nil
            return true
        }
    }

    func record(for key: RecordKey) async throws(KeyStoreError) -> IdempotencyRecord? {
        try enter("record")
        return state.withLock { $0.records[key] }
    }

    func delete(_ key: RecordKey) async throws(KeyStoreError) -> Bool {
        try enter("delete")
        return state.withLock { $0.records.removeValue(forKey: key) != nil }
    }

    func deleteExpired(now: Timestamp, limit: Int) async throws(KeyStoreError) -> Int {
        try enter("deleteExpired")
        return state.withLock { state in
            let expired = state.records.values.filter { $0.expiresAt <= now }.prefix(limit).map(\.key)
            for key in expired { state.records[key] = nil }
            return expired.count
        }
    }

    func forEachKey(_ body: (RecordKey) throws -> Void) async throws(KeyStoreError) {
        try enter("forEachKey")
        let keys = state.withLock { Array($0.records.keys) }
        do {
            for key in keys { try body(key) }
        } catch {
            throw .corrupt("\(error)")
        }
    }

    func statistics(now: Timestamp) async throws(KeyStoreError) -> KeyStoreStatistics {
        try enter("statistics")
        return state.withLock { state in
            let records = state.records.values
            return KeyStoreStatistics(
                inFlight: records.filter { $0.state == .inFlight && $0.expiresAt > now }.count,
                completed: records.filter { $0.state == .completed && $0.expiresAt > now }.count,
                expired: records.filter { $0.expiresAt <= now }.count,
                fileBytes: 0,
                leaseEnded: records.filter {
                    $0.state == .inFlight && $0.expiresAt > now && $0.leaseExpiresAt <= now
                }.count)
        }
    }

    func close() async {
        state.withLock { $0.closed = true }
    }
}
