import CSQLite

/// An SQLite result code, primary or extended (https://sqlite.org/rescode.html).
///
/// The extended codes are C macros built with `|` and `<<` that Swift cannot import ("macro unavailable:
/// structure not supported"), so they are spelled out here the way GRDB's `ResultCode` does.
struct SQLiteResultCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    var rawValue: Int32

    init(rawValue: Int32) { self.rawValue = rawValue }

    /// "The least significant 8 bits of the result code define a broad category and are called the primary
    /// result code." (sqlite.org/rescode.html)
    var primary: SQLiteResultCode { SQLiteResultCode(rawValue: rawValue & 0xFF) }

    /// The English text SQLite has for this code (`sqlite3_errstr`).
    var description: String { "\(rawValue) (\(String(cString: sqlite3_errstr(rawValue))))" }

    /// Pattern matching on a primary code matches all of its extended codes:
    /// `case .constraint:` matches `.constraintPrimaryKey`.
    static func ~= (pattern: SQLiteResultCode, code: SQLiteResultCode) -> Bool {
        pattern.rawValue == (pattern.rawValue & 0xFF) ? pattern.rawValue == code.primary.rawValue : pattern == code
    }

    // Primary codes (these macros are plain integers and import).
    static let ok = Self(rawValue: SQLITE_OK)
    static let error = Self(rawValue: SQLITE_ERROR)
    static let abort = Self(rawValue: SQLITE_ABORT)
    static let busy = Self(rawValue: SQLITE_BUSY)
    static let locked = Self(rawValue: SQLITE_LOCKED)
    static let noMemory = Self(rawValue: SQLITE_NOMEM)
    static let readOnly = Self(rawValue: SQLITE_READONLY)
    static let interrupt = Self(rawValue: SQLITE_INTERRUPT)
    static let ioError = Self(rawValue: SQLITE_IOERR)
    static let corrupt = Self(rawValue: SQLITE_CORRUPT)
    static let full = Self(rawValue: SQLITE_FULL)
    static let cantOpen = Self(rawValue: SQLITE_CANTOPEN)
    static let tooBig = Self(rawValue: SQLITE_TOOBIG)
    static let constraint = Self(rawValue: SQLITE_CONSTRAINT)
    static let mismatch = Self(rawValue: SQLITE_MISMATCH)
    static let misuse = Self(rawValue: SQLITE_MISUSE)
    static let range = Self(rawValue: SQLITE_RANGE)
    static let notADatabase = Self(rawValue: SQLITE_NOTADB)
    static let row = Self(rawValue: SQLITE_ROW)
    static let done = Self(rawValue: SQLITE_DONE)

    // Extended codes (sqlite3.h: `#define SQLITE_CONSTRAINT_PRIMARYKEY (SQLITE_CONSTRAINT | (6<<8))` etc.).
    static let constraintCheck = Self(rawValue: SQLITE_CONSTRAINT | (1 << 8))
    static let constraintNotNull = Self(rawValue: SQLITE_CONSTRAINT | (5 << 8))
    static let constraintPrimaryKey = Self(rawValue: SQLITE_CONSTRAINT | (6 << 8))
    static let constraintUnique = Self(rawValue: SQLITE_CONSTRAINT | (8 << 8))
    static let busySnapshot = Self(rawValue: SQLITE_BUSY | (2 << 8))
    static let busyTimeout = Self(rawValue: SQLITE_BUSY | (3 << 8))
    static let readOnlyDatabaseMoved = Self(rawValue: SQLITE_READONLY | (4 << 8))
    static let ioErrorRead = Self(rawValue: SQLITE_IOERR | (1 << 8))
    static let ioErrorShortRead = Self(rawValue: SQLITE_IOERR | (2 << 8))
    static let ioErrorWrite = Self(rawValue: SQLITE_IOERR | (3 << 8))
    static let ioErrorFsync = Self(rawValue: SQLITE_IOERR | (4 << 8))
    static let cantOpenIsDirectory = Self(rawValue: SQLITE_CANTOPEN | (2 << 8))
    static let corruptIndex = Self(rawValue: SQLITE_CORRUPT | (3 << 8))
}
