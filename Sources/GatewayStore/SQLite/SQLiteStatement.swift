import CSQLite

/// A prepared statement. It belongs to one ``SQLiteConnection`` and is used on that connection's thread only.
///
/// Ownership follows GRDB's `Statement`: the statement is finalized in `deinit`, and the connection finalizes its
/// cached statements before it closes.
final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String
    private let db: OpaquePointer

    /// Compiles `sql` (one statement) on `db`.
    init(db: OpaquePointer, sql: String) throws(SQLiteError) {
        var statement: OpaquePointer?
        // "If the caller knows that the supplied string is nul-terminated, then there is a small performance
        // advantage to passing an nByte parameter that is the number of bytes in the input string *including*
        // the nul-terminator." (sqlite.org/c3ref/prepare.html)
        // SQLITE_PREPARE_PERSISTENT: "a hint to the query planner that the prepared statement will be retained
        // for a long time and probably reused many times" — true of the cached statements.
        let code = sql.withCString { cString in
            sqlite3_prepare_v3(db, cString, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        }
        guard code == SQLITE_OK, let statement else {
            // "*ppStmt is left pointing to a compiled prepared statement … or NULL if there is an error"; a NULL
            // statement needs no finalize.
            throw SQLiteError(db: db, code: code, sql: sql)
        }
        self.handle = statement
        self.sql = sql
        self.db = db
    }

    deinit {
        // "Invoking sqlite3_finalize() on a NULL pointer is a harmless no-op." Its return value repeats the last
        // step's error, which was already reported, so it is ignored here.
        sqlite3_finalize(handle)
    }

    // MARK: Binding (1-based parameter indexes, as in SQL's ?1 ?2 …)

    func bind(_ value: Int64, at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ value: Int, at index: Int32) throws(SQLiteError) {
        try bind(Int64(value), at: index)
    }

    func bind(_ value: String, at index: Int32) throws(SQLiteError) {
        // SQLITE_TRANSIENT: "SQLite makes its own private copy of the data immediately, before the
        // sqlite3_bind_*() routine returns" — the Swift string's buffer need not outlive the call.
        var value = value
        let code = value.withUTF8 { utf8 in
            // SQLite lengths are Int32; anything larger is SQLITE_TOOBIG rather than a trap on conversion.
            guard let count = Int32(exactly: utf8.count) else { return SQLITE_TOOBIG }
            return sqlite3_bind_text(handle, index, utf8.baseAddress, count, csqlite_transient())
        }
        try check(code)
    }

    /// Binds a BLOB; `nil` binds SQL NULL. An empty array binds a zero-length BLOB (not NULL).
    func bind(_ value: [UInt8]?, at index: Int32) throws(SQLiteError) {
        guard let value else {
            try check(sqlite3_bind_null(handle, index))
            return
        }
        let code = value.withUnsafeBytes { bytes in
            guard let count = Int32(exactly: bytes.count) else { return SQLITE_TOOBIG }
            return count == 0
                ? sqlite3_bind_zeroblob(handle, index, 0)
                : sqlite3_bind_blob(handle, index, bytes.baseAddress, count, csqlite_transient())
        }
        try check(code)
    }

    func bindNull(at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_null(handle, index))
    }

    // MARK: Stepping

    /// Runs one step: `true` when a row is available, `false` when the statement is done.
    @discardableResult
    func step() throws(SQLiteError) -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw SQLiteError(db: db, code: code, sql: sql)
        }
    }

    /// Resets the statement so it can run again and releases its bindings' copies.
    ///
    /// Resetting promptly matters in WAL mode: "a read transaction … is ended when the statement is reset or
    /// finalized", and an open read transaction holds back checkpoints. The result code only repeats the last
    /// step's error, so it is ignored.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Columns (0-based)

    func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    func text(_ column: Int32) -> String {
        // "call sqlite3_column_text() first to force the result into the desired format, then invoke
        // sqlite3_column_bytes() to find the size of the result" (sqlite.org/c3ref/column_blob.html).
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The column as bytes (a zero-length BLOB and NULL both give `[]`; check ``isNull(_:)`` to tell them apart).
    func blob(_ column: Int32) -> [UInt8] {
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    private func check(_ code: Int32) throws(SQLiteError) {
        guard code != SQLITE_OK else { return }
        if code == SQLITE_TOOBIG {
            throw SQLiteError(code: .tooBig, message: "string or blob too big", sql: sql)
        }
        throw SQLiteError(db: db, code: code, sql: sql)
    }
}
