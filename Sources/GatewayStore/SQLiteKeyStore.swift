import Logging
import Synchronization

/// The production ``KeyStore``: one SQLite file in WAL mode.
///
/// - **Writes** (`claim`, `complete`, `release`, `delete`, `deleteExpired`) go to one writer connection on its own
///   queue with group commit (``GroupCommitWriter``): everything queued runs in one transaction and each caller
///   resumes only after that transaction committed. With `synchronous=NORMAL` a returned claim survives `kill -9`;
///   with `.full` it survives power loss too.
/// - **Reads** (`record(for:)`, `forEachKey`, `statistics`) use a small pool of read-only connections, each on its
///   own queue; in WAL mode they see the last committed state and never wait for the writer.
/// - `":memory:"` opens a private in-memory database on a single connection that serves reads as well.
/// - Every SQLite failure (disk full, I/O error, busy beyond the timeout, a damaged file) is thrown as
///   ``KeyStoreError/database(code:message:)`` with the extended result code; nothing traps.
///
/// Sendable without `@unchecked`: connections live inside ``ConnectionWorker``s (serial queue + `Mutex`).
public final class SQLiteKeyStore: KeyStore {
    public let path: String
    public let options: Options
    private let writer: GroupCommitWriter
    private let readers: [ConnectionWorker]
    /// Checkpoints the WAL in the background (file stores with ``Options/checkpointInterval`` set).
    let checkpointer: Checkpointer?
    private let nextReader = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// Opens (creating if needed, with its parent directory) the store at `path`, checks it and migrates its schema.
    /// - Parameters:
    ///   - path: a file path, or `":memory:"`.
    ///   - options: see ``Options``.
    /// - Throws: ``KeyStoreError/database(code:message:)`` when the file cannot be created, opened or migrated;
    ///   ``KeyStoreError/corrupt(_:)`` when `PRAGMA quick_check` finds damage.
    public init(path: String, options: Options = Options()) throws(KeyStoreError) {
        self.path = path
        self.options = options
        try Self.createParentDirectory(of: path)
        let writerConnection = try Self.openWriter(path: path, options: options)
        let writerWorker = ConnectionWorker(label: "gateway.store.writer", connection: writerConnection)
        let inMemory = Self.isInMemory(path)
        // In memory, reads run on the writer's queue: no linger there, it would delay them.
        writer = GroupCommitWriter(
            worker: writerWorker, maxBatch: options.maxBatch, logger: options.logger,
            linger: inMemory ? .zero : GroupCommitWriter.defaultLinger)
        if inMemory {
            readers = [writerWorker]
        } else {
            var readers: [ConnectionWorker] = []
            for index in 0..<max(1, options.readerCount) {
                // On failure the writer worker is released and its connection closed by deinit (close_v2).
                let connection = try Self.openReader(path: path, options: options)
                readers.append(ConnectionWorker(label: "gateway.store.reader\(index)", connection: connection))
            }
            self.readers = readers
        }
        if !inMemory, let interval = options.checkpointInterval {
            checkpointer = Checkpointer(
                connection: try Self.openCheckpointer(path: path, options: options), interval: interval,
                logger: options.logger)
        } else {
            checkpointer = nil
        }
        options.logger.debug("store opened", metadata: ["path": "\(path)", "readers": "\(readers.count)"])
    }

    // MARK: Writes

    public func claim(_ claim: Claim, likelyNew: Bool) async throws(KeyStoreError) -> ClaimOutcome {
        switch try await write(.claim(claim, likelyNew: likelyNew)) {
        case .claimed(let tookOver): return .claimed(tookOver: tookOver)
        case .inFlight(let raw): return .inFlight(try raw.decode(maxBodyBytes: options.maxBodyBytes))
        case .completed(let raw): return .completed(try raw.decode(maxBodyBytes: options.maxBodyBytes))
        case .changed, .count: throw .corrupt("unexpected writer result for claim")
        }
    }

    public func complete(_ key: RecordKey, owner: OwnerToken, response: StoredResponse, expiresAt: Timestamp)
        async throws(KeyStoreError) -> Bool
    {
        // Encode and compress here, on the caller's task, so the writer thread only runs SQL.
        let encoded = EncodedResponse(response, compressionThreshold: options.compressionThreshold)
        return try await changed(write(.complete(key, owner: owner, response: encoded, expiresAt: expiresAt)))
    }

    public func release(_ key: RecordKey, owner: OwnerToken) async throws(KeyStoreError) -> Bool {
        try await changed(write(.release(key, owner: owner)))
    }

    public func delete(_ key: RecordKey) async throws(KeyStoreError) -> Bool {
        try await changed(write(.delete(key)))
    }

    public func deleteExpired(now: Timestamp, limit: Int) async throws(KeyStoreError) -> Int {
        guard limit > 0 else { return 0 }
        guard case .count(let count) = try await write(.deleteExpired(now: now, limit: limit)) else {
            throw .corrupt("unexpected writer result for deleteExpired")
        }
        return count
    }

    /// Queues an empty write: it takes the write lock with the next batch (`BEGIN IMMEDIATE`, waiting up to the busy
    /// timeout) and commits nothing, so it fails as a claim would.
    public func checkWritable() async throws(KeyStoreError) {
        _ = try await write(.probe)
    }

    private func write(_ operation: WriteOperation) async throws(KeyStoreError) -> WriteResult {
        guard !closed.load(ordering: .acquiring) else { throw .closed }
        return try await writer.submit(operation).get()
    }

    private func changed(_ result: WriteResult) throws(KeyStoreError) -> Bool {
        guard case .changed(let changed) = result else { throw .corrupt("unexpected writer result") }
        return changed
    }

    /// Write batches committed (or failed) so far and the operations they held; `operations / batches` is the
    /// group-commit factor.
    public var writeBatchCounts: (batches: Int, operations: Int) {
        (writer.batchesRun.load(ordering: .relaxed), writer.operationsRun.load(ordering: .relaxed))
    }

    // MARK: Reads

    public func record(for key: RecordKey) async throws(KeyStoreError) -> IdempotencyRecord? {
        let raw = try await read { (db) throws(KeyStoreError) in
            try sqlite { () throws(SQLiteError) in try RecordsTable.fetch(key, on: db) }
        }
        return try raw?.decode(maxBodyBytes: options.maxBodyBytes)
    }

    public func forEachKey(_ body: (RecordKey) throws -> Void) async throws(KeyStoreError) {
        let pageSize = max(1, options.keyPageSize)
        var after: RecordKey?
        while true {
            let start = after
            let page = try await read { (db) throws(KeyStoreError) in
                try sqlite { () throws(SQLiteError) in try RecordsTable.keys(after: start, limit: pageSize, on: db) }
            }
            for key in page {
                do {
                    try body(key)
                } catch let error as KeyStoreError {
                    throw error
                } catch {
                    // SQLITE_ABORT is what sqlite3_exec reports when its callback asks to stop — the same situation.
                    throw .database(code: SQLiteResultCode.abort.rawValue, message: "forEachKey stopped: \(error)")
                }
            }
            guard page.count == pageSize, let last = page.last else { return }
            after = last
        }
    }

    /// Up to `limit` keys in (scope, key) order, starting after `after` (keyset pagination: pass the last key of a
    /// page to get the next), for listings.
    public func keys(after: RecordKey?, limit: Int) async throws(KeyStoreError) -> [RecordKey] {
        let count = max(0, limit)
        return try await read { (db) throws(KeyStoreError) in
            try sqlite { () throws(SQLiteError) in try RecordsTable.keys(after: after, limit: count, on: db) }
        }
    }

    public func statistics(now: Timestamp) async throws(KeyStoreError) -> KeyStoreStatistics {
        let counts = try await read { (db) throws(KeyStoreError) in
            let counts = try sqlite { () throws(SQLiteError) in try RecordsTable.counts(now: now, on: db) }
            return Counts(inFlight: counts.0, completed: counts.1, expired: counts.2, leaseEnded: counts.3)
        }
        return KeyStoreStatistics(
            inFlight: counts.inFlight, completed: counts.completed, expired: counts.expired,
            fileBytes: Self.fileBytes(path: path), leaseEnded: counts.leaseEnded)
    }

    private struct Counts: Sendable {
        var inFlight, completed, expired, leaseEnded: Int
    }

    private func read<Result: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws(KeyStoreError) -> Result
    ) async throws(KeyStoreError) -> Result {
        guard !closed.load(ordering: .acquiring) else { throw .closed }
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        let reader = readers[Int(UInt(bitPattern: index) % UInt(readers.count))]
        return try await reader.run(body)
    }

    // MARK: Closing

    /// Lets queued writes finish, then closes the writer (the last connection to close checkpoints the WAL into the
    /// main file) and the readers. Later calls throw ``KeyStoreError/closed``.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        writer.stopAccepting()
        await checkpointer?.close()
        for reader in readers where reader !== writer.worker {
            if let error = await reader.close() {
                options.logger.warning("store reader close failed", metadata: ["error": "\(error)"])
            }
        }
        if let error = await writer.worker.close() {
            options.logger.warning("store close failed", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}
