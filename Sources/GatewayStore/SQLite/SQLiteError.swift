import CSQLite

/// An error answered by SQLite: the extended result code, SQLite's message and the statement that failed.
///
/// Internal to the store; at the ``KeyStore`` boundary it becomes ``KeyStoreError/database(code:message:)``.
struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The extended result code (connections enable `sqlite3_extended_result_codes`).
    var code: SQLiteResultCode
    var message: String
    /// The SQL being prepared or stepped, when there was one.
    var sql: String?

    init(code: SQLiteResultCode, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The error of the last failed call on `db`.
    ///
    /// "If the most recent sqlite3_* API call associated with database connection D failed, then the
    /// sqlite3_errcode(D) interface returns the numeric result code for that API call." (sqlite.org/c3ref/errcode.html)
    /// The caller must read it right after the failing call, on the thread that owns the connection.
    init(db: OpaquePointer?, code: Int32, sql: String? = nil) {
        let extended = db.map { sqlite3_extended_errcode($0) } ?? code
        // When the connection's code disagrees with the returned one (e.g. a misuse), trust the returned one.
        let resolved = (extended & 0xFF) == (code & 0xFF) ? extended : code
        let message = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(code))
        self.init(code: SQLiteResultCode(rawValue: resolved), message: message, sql: sql)
    }

    var description: String {
        var text = "SQLite error \(code): \(message)"
        if let sql { text += " — while executing `\(sql)`" }
        return text
    }

    /// The public form: `.database(code:message:)` with the extended code.
    var keyStoreError: KeyStoreError {
        var text = message
        if let sql { text += " (\(sql.prefix(120)))" }
        return .database(code: code.rawValue, message: text)
    }
}

/// Runs SQLite calls and maps their error to ``KeyStoreError/database(code:message:)``.
func sqlite<Result>(_ body: () throws(SQLiteError) -> Result) throws(KeyStoreError) -> Result {
    do throws(SQLiteError) {
        return try body()
    } catch {
        throw error.keyStoreError
    }
}
