import CSQLite

/// One SQLite database connection, used from one thread at a time (its owner serialises access).
///
/// Opened in multi-thread mode (`SQLITE_OPEN_NOMUTEX`): "In this mode, SQLite can be safely used by multiple threads
/// provided that no single database connection nor any object derived from database connection, such as a prepared
/// statement, is used in two or more threads at the same time." (sqlite.org/threadsafe.html). The store keeps each
/// connection inside a ``ConnectionWorker`` (a serial queue plus a `Mutex`), which gives exactly that guarantee.
///
/// The connection must be closed explicitly with ``close()``; `deinit` falls back to `sqlite3_close_v2`.
final class SQLiteConnection {
    /// The handle, `nil` once closed.
    private(set) var handle: OpaquePointer?
    let path: String
    private var statements: [String: SQLiteStatement] = [:]

    /// Process-wide settings, applied once before the first connection opens. Memory statistics off: SQLite
    /// otherwise takes a global mutex on every allocation to keep them (sqlite.org/c3ref/c_config_covering_index_scan.html,
    /// `SQLITE_CONFIG_MEMSTATUS`), and nothing here reads them. Fails harmlessly (`SQLITE_MISUSE`) if the host
    /// process used SQLite first.
    private static let libraryConfigured: Bool = csqlite_disable_memory_statistics() == SQLITE_OK

    /// Flags for the connection that writes: read/write, create, multi-thread mode, URI file names.
    static let writerFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
    /// Flags for the read-only pool connections.
    static let readerFlags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI

    /// Opens `path` with `flags` (one of ``writerFlags``/``readerFlags`` or your own).
    init(path: String, flags: Int32) throws(SQLiteError) {
        _ = Self.libraryConfigured
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let error = SQLiteError(db: db, code: code, sql: nil)
            // "Whether or not an error occurs when it is opened, resources associated with the database connection
            // handle should be released by passing it to sqlite3_close() when it is no longer required."
            // (sqlite.org/c3ref/open.html)
            if let db { sqlite3_close(db) }
            throw SQLiteError(code: error.code, message: "cannot open \(path): \(error.message)")
        }
        self.handle = db
        self.path = path
        // "The sqlite3_extended_result_codes() routine enables or disables the extended result codes feature"
        // — we want SQLITE_CONSTRAINT_PRIMARYKEY rather than SQLITE_CONSTRAINT.
        sqlite3_extended_result_codes(db, 1)
        // Defensive mode "disables language features that allow ordinary SQL to deliberately corrupt the database
        // file" (writable_schema, journal_mode=OFF …). Not essential, so its result is ignored.
        var ignored: Int32 = 0
        _ = csqlite_db_config_int(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &ignored)
    }

    deinit {
        guard let handle else { return }
        statements.removeAll()
        // sqlite3_close_v2: "if the database connection is associated with unfinalized prepared statements …
        // then … the database connection becomes an unusable 'zombie' which will automatically be deallocated
        // when the last prepared statement is finalized". Safe in deinit whatever else is alive.
        sqlite3_close_v2(handle)
    }

    /// Finalizes the cached statements and closes the connection. Idempotent.
    ///
    /// If some statement is still alive elsewhere, `sqlite3_close` answers SQLITE_BUSY; the connection is then
    /// handed to `sqlite3_close_v2` (freed when that statement goes) and the error is thrown for the log.
    func close() throws(SQLiteError) {
        guard let db = handle else { return }
        statements.removeAll()
        handle = nil
        let code = sqlite3_close(db)
        if code != SQLITE_OK {
            let error = SQLiteError(db: db, code: code, sql: nil)
            sqlite3_close_v2(db)
            throw error
        }
    }

    var isOpen: Bool { handle != nil }

    /// Whether a transaction is open: "The sqlite3_get_autocommit() interface returns non-zero or zero if the given
    /// database connection is or is not in autocommit mode, respectively."
    var isInTransaction: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE on this connection.
    var changes: Int {
        guard let handle else { return 0 }
        return Int(sqlite3_changes(handle))
    }

    /// Sets the busy handler: "sleeps for a specified amount of time when a table is locked … until at least
    /// "ms" milliseconds of sleeping have accumulated", after which SQLITE_BUSY is returned.
    func setBusyTimeout(milliseconds: Int32) throws(SQLiteError) {
        let db = try openHandle()
        let code = sqlite3_busy_timeout(db, milliseconds)
        if code != SQLITE_OK { throw SQLiteError(db: db, code: code) }
    }

    /// Runs SQL text that may hold several statements and returns no rows (schema, pragmas).
    func execute(_ sql: String) throws(SQLiteError) {
        let db = try openHandle()
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        if code != SQLITE_OK {
            var error = SQLiteError(db: db, code: code, sql: sql)
            if let errorMessage {
                error.message = String(cString: errorMessage)
                // "To avoid memory leaks, the application should invoke sqlite3_free() on error message strings"
                sqlite3_free(errorMessage)
            }
            throw error
        }
    }

    /// The connection's cached statement for `sql`, compiled on first use.
    func cachedStatement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let statement = statements[sql] { return statement }
        let statement = try SQLiteStatement(db: openHandle(), sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` with the cached statement for `sql`, resetting it afterwards whatever happens.
    func withStatement<Result>(
        _ sql: String, _ body: (SQLiteStatement) throws(SQLiteError) -> Result
    ) throws(SQLiteError) -> Result {
        let statement = try cachedStatement(sql)
        defer { statement.reset() }
        return try body(statement)
    }

    /// Runs one cached statement that returns no rows (`BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`), skipping the parse
    /// that ``execute(_:)`` pays on every call.
    func run(_ sql: String) throws(SQLiteError) {
        let statement = try cachedStatement(sql)
        defer { statement.reset() }
        try statement.step()
    }

    /// Runs a one-row statement and returns its first column as text (pragmas such as `journal_mode`).
    func scalarText(_ sql: String) throws(SQLiteError) -> String? {
        let statement = try SQLiteStatement(db: openHandle(), sql: sql)
        return try statement.step() ? statement.text(0) : nil
    }

    /// Runs a one-row statement and returns its first column as an integer.
    func scalarInt(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try SQLiteStatement(db: openHandle(), sql: sql)
        return try statement.step() ? statement.int64(0) : nil
    }

    /// Runs a statement and returns the first column of every row as text (`PRAGMA quick_check`).
    func column(_ sql: String) throws(SQLiteError) -> [String] {
        let statement = try SQLiteStatement(db: openHandle(), sql: sql)
        var rows: [String] = []
        while try statement.step() { rows.append(statement.text(0)) }
        return rows
    }

    private func openHandle() throws(SQLiteError) -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: .misuse, message: "connection is closed") }
        return handle
    }
}
