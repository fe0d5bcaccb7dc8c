import Dispatch
import Synchronization

/// A ``SQLiteConnection`` with its own serial queue: every use of the connection runs on that queue, under a
/// `Mutex` that makes the non-Sendable connection reachable from a `Sendable` owner without `@unchecked`.
///
/// The queue provides the order and keeps blocking SQLite calls off Swift's cooperative thread pool (two threads on
/// this machine); the mutex is uncontended and only proves exclusivity to the compiler.
final class ConnectionWorker: Sendable {
    let queue: DispatchQueue
    private let connection: Mutex<SQLiteConnection?>

    init(label: String, connection: sending SQLiteConnection) {
        self.queue = DispatchQueue(label: label, qos: .userInitiated)
        self.connection = Mutex(connection)
    }

    /// Runs `body` with the connection, on the calling thread. Call it from ``queue`` only.
    /// Throws ``KeyStoreError/closed`` after ``close()``.
    func withConnection<Result: Sendable>(
        _ body: (SQLiteConnection) throws(KeyStoreError) -> Result
    ) throws(KeyStoreError) -> Result {
        try connection.withLock { (connection: inout SQLiteConnection?) throws(KeyStoreError) -> Result in
            guard let connection, connection.isOpen else { throw KeyStoreError.closed }
            return try body(connection)
        }
    }

    /// Runs `body` with the connection on ``queue`` and returns its result to the awaiting task.
    func run<Result: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws(KeyStoreError) -> Result
    ) async throws(KeyStoreError) -> Result {
        // Unsafe continuation (no allocation per read): the block below resumes it exactly once.
        let result: Swift.Result<Result, KeyStoreError> = await withUnsafeContinuation { continuation in
            queue.async {
                do throws(KeyStoreError) {
                    continuation.resume(returning: .success(try self.withConnection(body)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Closes the connection on ``queue`` after the work already queued. Later calls throw ``KeyStoreError/closed``.
    /// - Returns: the close error, if SQLite reported one (for the log).
    @discardableResult
    func close() async -> SQLiteError? {
        await withCheckedContinuation { continuation in
            queue.async {
                let error = self.connection.withLock { (connection: inout SQLiteConnection?) -> SQLiteError? in
                    defer { connection = nil }
                    do throws(SQLiteError) {
                        try connection?.close()
                        return nil
                    } catch {
                        return error
                    }
                }
                continuation.resume(returning: error)
            }
        }
    }
}
