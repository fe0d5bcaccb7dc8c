import Synchronization

/// The durable home of idempotency records.
///
/// Every operation is atomic. Implementations: ``SQLiteKeyStore`` (production) and ``InMemoryKeyStore`` (tests,
/// `--store :memory:` is SQLite in memory instead). Times are wall-clock milliseconds since 1970 (``Timestamp``)
/// because records outlive the process; callers pass `now` so tests can drive time.
public protocol KeyStore: Sendable {
    /// Claims `key` for a new request, atomically:
    /// - no record, or a completed record whose `expiresAt <= now`: insert an in-flight record → ``ClaimOutcome/claimed(_:)``;
    /// - an in-flight record whose `expiresAt <= now` (abandoned past its TTL): replaced → ``ClaimOutcome/claimed(_:)``;
    /// - an in-flight record whose lease ended (`leaseExpiresAt <= now`) and whose fingerprint equals the claim's:
    ///   take it over with the new owner token, keeping `createdAt` → ``ClaimOutcome/claimed(_:)`` with `tookOver == true`;
    /// - any other in-flight record (a live lease, or an ended lease claimed with a different payload) →
    ///   ``ClaimOutcome/inFlight(_:)`` (nothing changes; the caller answers 409 or, on a fingerprint mismatch, 422);
    /// - a live completed record → ``ClaimOutcome/completed(_:)`` (nothing changes).
    ///
    /// The fingerprint is not compared here; the caller compares it with the returned record's.
    /// - Parameter likelyNew: a hint (the Bloom filter said "certainly absent"): try the insert first.
    func claim(_ claim: Claim, likelyNew: Bool) async throws(KeyStoreError) -> ClaimOutcome

    /// Stores the response for a record this owner holds, making it `completed` until `expiresAt`.
    /// Returns `false` (and changes nothing) when `owner` no longer holds the record (a takeover happened).
    func complete(_ key: RecordKey, owner: OwnerToken, response: StoredResponse, expiresAt: Timestamp)
        async throws(KeyStoreError) -> Bool

    /// Deletes an in-flight record this owner holds, so that the client may retry. Returns `false` when the owner
    /// no longer holds it.
    func release(_ key: RecordKey, owner: OwnerToken) async throws(KeyStoreError) -> Bool

    /// The record for `key`, whatever its state (expired records included; callers check `expiresAt`).
    func record(for key: RecordKey) async throws(KeyStoreError) -> IdempotencyRecord?

    /// Deletes a record unconditionally (admin `DELETE /keys/…`, `keys delete`). Returns whether one existed.
    func delete(_ key: RecordKey) async throws(KeyStoreError) -> Bool

    /// Deletes at most `limit` records whose time is up: completed with `expiresAt <= now`, or in-flight with
    /// `expiresAt <= now` (an abandoned claim also gets a TTL). Returns how many were deleted.
    func deleteExpired(now: Timestamp, limit: Int) async throws(KeyStoreError) -> Int

    /// Calls `body` with every stored key (to rebuild the Bloom filter at start).
    func forEachKey(_ body: (RecordKey) throws -> Void) async throws(KeyStoreError)

    /// Counts of records by state.
    func statistics(now: Timestamp) async throws(KeyStoreError) -> KeyStoreStatistics

    /// Checks that a write could commit now (for readiness), changing nothing: throws what a claim would meet (the
    /// database locked beyond the busy timeout, a read-only or failing file).
    func checkWritable() async throws(KeyStoreError)

    /// Flushes and closes. Further calls throw ``KeyStoreError/closed``.
    func close() async
}

extension KeyStore {
    /// Stores that cannot fail to write (in memory) are always writable.
    public func checkWritable() async throws(KeyStoreError) {}
}

/// Milliseconds since 1970-01-01T00:00:00Z.
public typealias Timestamp = Int64

/// A record's identity: the scope (a hash of the configured scope headers, e.g. `Authorization`, never the
/// credential itself) and the client's key.
public struct RecordKey: Sendable, Hashable, CustomStringConvertible {
    public var scope: String
    public var key: String

    public init(scope: String, key: String) {
        self.scope = scope
        self.key = key
    }

    public var description: String { scope.isEmpty ? key : "\(scope)/\(key)" }
}

/// A unique token that names the gateway request which holds an in-flight record (a fencing token):
/// only the holder may complete or release it, so a stale owner cannot overwrite a newer owner's result.
public struct OwnerToken: Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// A fresh token, unique within the process and across processes (``UniqueHex``, 32 hex digits) — no
    /// `getrandom(2)` call per request. Unique, not secret: tokens never leave the process (they fence owners;
    /// they are not credentials).
    public static func random() -> OwnerToken {
        OwnerToken(rawValue: generator.next(words: 2))
    }

    private static let generator = UniqueHex()

    public var description: String { rawValue }
}

/// A request to claim a key.
public struct Claim: Sendable {
    public var key: RecordKey
    /// SHA-256 of the request (method, path, body, selected headers); 32 bytes.
    public var fingerprint: [UInt8]
    public var owner: OwnerToken
    public var now: Timestamp
    /// When the claim's lease ends (another request may then take the key over).
    public var leaseExpiresAt: Timestamp
    /// When an abandoned in-flight record may be swept (normally `now + ttl`).
    public var expiresAt: Timestamp
    /// Request method and path, kept for the admin view.
    public var method: String
    public var path: String

    public init(
        key: RecordKey, fingerprint: [UInt8], owner: OwnerToken, now: Timestamp, leaseExpiresAt: Timestamp,
        expiresAt: Timestamp, method: String, path: String
    ) {
        self.key = key
        self.fingerprint = fingerprint
        self.owner = owner
        self.now = now
        self.leaseExpiresAt = leaseExpiresAt
        self.expiresAt = expiresAt
        self.method = method
        self.path = path
    }
}

/// What ``KeyStore/claim(_:likelyNew:)`` found.
public enum ClaimOutcome: Sendable, Equatable {
    /// The caller now holds the key and must forward the request. `tookOver` is true when an expired lease was
    /// taken over (the previous owner may have forwarded the request already: at-least-once from here).
    case claimed(tookOver: Bool)
    /// Another request holds the key and its lease is live.
    case inFlight(IdempotencyRecord)
    /// The key has a stored response.
    case completed(IdempotencyRecord)
}

/// The two states of a record.
public enum RecordState: String, Sendable, Equatable {
    case inFlight = "in_flight"
    case completed
}

/// One stored idempotency record.
public struct IdempotencyRecord: Sendable, Equatable {
    public var key: RecordKey
    public var state: RecordState
    public var fingerprint: [UInt8]
    public var owner: OwnerToken
    public var createdAt: Timestamp
    public var leaseExpiresAt: Timestamp
    public var expiresAt: Timestamp
    public var method: String
    public var path: String
    /// Present when `state == .completed`.
    public var response: StoredResponse?

    public init(
        key: RecordKey, state: RecordState, fingerprint: [UInt8], owner: OwnerToken, createdAt: Timestamp,
        leaseExpiresAt: Timestamp, expiresAt: Timestamp, method: String, path: String, response: StoredResponse?
    ) {
        self.key = key
        self.state = state
        self.fingerprint = fingerprint
        self.owner = owner
        self.createdAt = createdAt
        self.leaseExpiresAt = leaseExpiresAt
        self.expiresAt = expiresAt
        self.method = method
        self.path = path
        self.response = response
    }
}

/// A response as stored for replay: status, the header fields in order (names as received), and the body.
public struct StoredResponse: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var status: Int
    public var fields: [Field]
    public var body: [UInt8]

    public init(status: Int, fields: [Field], body: [UInt8]) {
        self.status = status
        self.fields = fields
        self.body = body
    }
}

/// Counts of records by state.
public struct KeyStoreStatistics: Sendable, Equatable {
    /// In-flight records not expired.
    public var inFlight: Int
    public var completed: Int
    public var expired: Int
    /// Bytes of the database file(s), 0 in memory.
    public var fileBytes: Int64
    /// Of ``inFlight``, those whose lease is over (the next request with the key takes it over): requests that
    /// never got an answer stored, such as after a crash or a broken exchange.
    public var leaseEnded: Int

    public init(inFlight: Int, completed: Int, expired: Int, fileBytes: Int64, leaseEnded: Int = 0) {
        self.inFlight = inFlight
        self.completed = completed
        self.expired = expired
        self.fileBytes = fileBytes
        self.leaseEnded = leaseEnded
    }
}

/// Why a store operation failed. Any of these makes the engine fail closed (503) unless fail-open is configured.
public enum KeyStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database answered an error (disk full, I/O error, locked beyond the busy timeout, corrupt file…).
    case database(code: Int32, message: String)
    /// The stored data could not be decoded (a corrupt row or compressed body).
    case corrupt(String)
    /// The store was closed.
    case closed
    /// The store could not be opened for a reason outside the database (its directory could not be created).
    case unavailable(String)

    public var description: String {
        switch self {
        case .database(let code, let message): "SQLite error \(code): \(message)"
        case .corrupt(let message): "corrupt record: \(message)"
        case .closed: "key store is closed"
        case .unavailable(let message): message
        }
    }
}
