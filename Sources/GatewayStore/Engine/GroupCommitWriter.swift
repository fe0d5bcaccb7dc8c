#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// The single writer, with group commit.
///
/// Callers queue a ``WriteOperation`` and suspend. The writer's serial queue takes everything queued (up to
/// `maxBatch`), runs it in one `BEGIN IMMEDIATE … COMMIT`, and only after the COMMIT succeeded resumes each caller with
/// its own result. One commit (and, with `synchronous=FULL`, one fsync) is shared by the whole batch, which is what
/// makes claims on new keys cheap under load; under no load a batch is a single operation and adds no delay.
///
/// Failure handling: if COMMIT (or BEGIN) fails, the batch is rolled back and every caller in it gets the error. If
/// one operation fails with an error that is its own (SQLITE_TOOBIG, a constraint, a type mismatch), the transaction
/// is rolled back, that caller gets its error, and the rest of the batch is retried in a fresh transaction; errors
/// that concern the database (I/O, disk full, busy, corrupt) fail the whole batch at once.
final class GroupCommitWriter: Sendable {
    /// Unsafe (no allocation per write): each job is resumed exactly once, by the drain that ran its batch or by
    /// `submit` when the writer is closed.
    typealias Completion = UnsafeContinuation<Result<WriteResult, KeyStoreError>, Never>

    private struct Job: Sendable {
        var operation: WriteOperation
        var continuation: Completion
    }

    private struct Pending: Sendable {
        var jobs: [Job] = []
        /// A drain is scheduled or running on the worker's queue.
        var draining = false
        var closed = false
    }

    let worker: ConnectionWorker
    private let maxBatch: Int
    private let pending = Mutex(Pending())
    private let logger: Logger
    /// Batches run and operations in them, for tests and metrics (operations / batches = the group-commit factor).
    let batchesRun = Atomic<Int>(0)
    let operationsRun = Atomic<Int>(0)

    /// How long the writer keeps polling for new operations after its queue ran empty (yielding the CPU between
    /// polls) before it returns its thread to Dispatch. Default 50 µs; zero where reads share the writer's queue
    /// (an in-memory store), which would otherwise wait it out.
    let lingerBudget: Duration

    static let defaultLinger: Duration = .microseconds(50)

    init(worker: ConnectionWorker, maxBatch: Int, logger: Logger, linger: Duration = defaultLinger) {
        self.lingerBudget = linger
        self.worker = worker
        self.maxBatch = max(1, maxBatch)
        self.logger = logger
    }

    /// Queues `operation` and returns its result once its batch has committed (or failed).
    func submit(_ operation: WriteOperation) async -> Result<WriteResult, KeyStoreError> {
        await withUnsafeContinuation { (continuation: Completion) in
            let schedule = pending.withLock { (pending: inout Pending) -> Bool? in
                if pending.closed { return nil }
                pending.jobs.append(Job(operation: operation, continuation: continuation))
                if pending.draining { return false }
                pending.draining = true
                return true
            }
            switch schedule {
            case nil: continuation.resume(returning: .failure(.closed))
            case true?: worker.queue.async { self.drain() }
            case false?: break
            }
        }
    }

    /// Refuses new operations; those already queued still run. Call before closing the worker.
    func stopAccepting() {
        pending.withLock { $0.closed = true }
    }

    /// Runs batches until the queue is empty. Runs on the worker's queue.
    private func drain() {
        var idleSince: ContinuousClock.Instant?
        while true {
            let batch = pending.withLock { (pending: inout Pending) -> [Job]? in
                if pending.jobs.isEmpty {
                    // Linger briefly before giving the thread back: under load the next claim or completion comes
                    // within microseconds, and picking it up here saves a thread wake-up per batch.
                    let now = ContinuousClock.now
                    if lingerBudget == .zero || idleSince.map({ now - $0 >= lingerBudget }) == true {
                        pending.draining = false
                        return []
                    }
                    if idleSince == nil { idleSince = now }
                    return nil
                }
                if pending.jobs.count <= maxBatch {
                    defer { pending.jobs = [] }
                    return pending.jobs
                }
                let batch = Array(pending.jobs.prefix(maxBatch))
                pending.jobs.removeFirst(maxBatch)
                return batch
            }
            guard let batch else {
                sched_yield()  // let the threads that will submit the next operations run
                continue
            }
            if batch.isEmpty { return }
            idleSince = nil
            let operations = batch.map(\.operation)
            batchesRun.add(1, ordering: .relaxed)
            operationsRun.add(batch.count, ordering: .relaxed)
            let results: [Result<WriteResult, KeyStoreError>]
            do throws(KeyStoreError) {
                results = try worker.withConnection { (db) throws(KeyStoreError) in
                    Self.run(operations, on: db, logger: logger)
                }
            } catch {
                results = Array(repeating: .failure(error), count: batch.count)
            }
            for (job, result) in zip(batch, results) {
                job.continuation.resume(returning: result)
            }
        }
    }

    /// Runs `operations` in one transaction (see the type's documentation for the failure rules).
    static func run(
        _ operations: [WriteOperation], on db: SQLiteConnection, logger: Logger
    ) -> [Result<WriteResult, KeyStoreError>] {
        var results = [Result<WriteResult, KeyStoreError>?](repeating: nil, count: operations.count)
        var remaining = Array(operations.indices)

        func failAll(_ error: SQLiteError) {
            logger.error("store write batch failed", metadata: ["error": "\(error)", "operations": "\(remaining.count)"])
            for index in remaining { results[index] = .failure(error.keyStoreError) }
            remaining = []
        }

        attempt: while !remaining.isEmpty {
            do throws(SQLiteError) {
                try db.run("BEGIN IMMEDIATE")
            } catch {
                failAll(error)
                break
            }
            var done: [(Int, WriteResult)] = []
            done.reserveCapacity(remaining.count)
            for index in remaining {
                do throws(SQLiteError) {
                    done.append((index, try operations[index].apply(on: db)))
                } catch {
                    rollback(db)
                    if isOwnError(error) {
                        results[index] = .failure(error.keyStoreError)
                        remaining.removeAll { $0 == index }
                        continue attempt
                    }
                    failAll(error)
                    break attempt
                }
            }
            do throws(SQLiteError) {
                try db.run("COMMIT")
            } catch {
                // "If COMMIT fails … the transaction remains active" for SQLITE_BUSY; other errors may have rolled it
                // back already (sqlite.org/lang_transaction.html). Either way nothing of the batch is applied.
                rollback(db)
                failAll(error)
                break
            }
            for (index, result) in done { results[index] = .success(result) }
            remaining = []
        }
        return results.map { $0 ?? .failure(.closed) }
    }

    /// Errors caused by one operation's data rather than by the database as a whole.
    private static func isOwnError(_ error: SQLiteError) -> Bool {
        switch error.code {
        case .tooBig, .constraint, .mismatch, .range: true
        default: false
        }
    }

    private static func rollback(_ db: SQLiteConnection) {
        guard db.isInTransaction else { return }
        // ROLLBACK can fail only with SQLITE_BUSY while statements are pending, and all ours are reset.
        try? db.run("ROLLBACK")
    }
}
