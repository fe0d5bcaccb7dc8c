import Foundation
import Testing

@testable import GatewayStore

/// The thin SQLite layer: errors with extended codes, statements, closing.
@Suite("SQLiteConnection")
struct SQLiteConnectionTests {
    @Test("a duplicate primary key reports SQLITE_CONSTRAINT_PRIMARYKEY with message and SQL")
    func extendedCodes() throws {
        let db = try SQLiteConnection(path: ":memory:", flags: SQLiteConnection.writerFlags)
        _ = try Migrations.migrate(db)
        let claim = makeClaim("k")
        try RecordsTable.insert(claim, on: db)
        let error = #expect(throws: SQLiteError.self) { try RecordsTable.insert(claim, on: db) }
        #expect(error?.code == .constraintPrimaryKey)
        #expect(error?.code.rawValue == 1555)
        #expect(error.map { SQLiteResultCode.constraint ~= $0.code } == true)
        #expect(error.map { SQLiteResultCode.busy ~= $0.code } == false)
        #expect(error?.message.contains("UNIQUE constraint failed") == true)
        #expect(error?.sql?.hasPrefix("INSERT INTO records") == true)
        #expect(error?.keyStoreError == .database(code: 1555, message: error!.message + " (\(error!.sql!.prefix(120)))"))
        try db.close()
    }

    @Test("statements are cached, reset after use and finalized on close")
    func statements() throws {
        let db = try SQLiteConnection(path: ":memory:", flags: SQLiteConnection.writerFlags)
        try db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
        do {
            let first = try db.cachedStatement("SELECT x FROM t ORDER BY x")
            #expect(first === (try db.cachedStatement("SELECT x FROM t ORDER BY x")))
        }
        for _ in 0..<2 {
            let values = try db.withStatement("SELECT x FROM t ORDER BY x") { (statement) throws(SQLiteError) -> [Int64] in
                var values: [Int64] = []
                while try statement.step() { values.append(statement.int64(0)) }
                return values
            }
            #expect(values == [1, 2, 3])
        }
        // An abandoned half-read statement is reset by withStatement, so the next use starts over.
        let one = try db.withStatement("SELECT x FROM t ORDER BY x") { (statement) throws(SQLiteError) -> Int64 in
            _ = try statement.step()
            return statement.int64(0)
        }
        #expect(one == 1)
        try db.close()
        #expect(!db.isOpen)
        try db.close()  // idempotent
        #expect(throws: SQLiteError.self) { try db.execute("SELECT 1") }
    }

    @Test("closing while a statement is still referenced reports SQLITE_BUSY and frees the handle later")
    func closeWithLiveStatement() throws {
        let db = try SQLiteConnection(path: ":memory:", flags: SQLiteConnection.writerFlags)
        var statement: SQLiteStatement? = try db.cachedStatement("SELECT 1")
        #expect(try statement?.step() == true)
        let error = #expect(throws: SQLiteError.self) { try db.close() }
        #expect(error?.code == .busy)
        #expect(!db.isOpen, "handed to sqlite3_close_v2; freed when the statement is finalized")
        statement = nil  // finalizes; the zombie connection goes with it
        #expect(statement == nil)
    }

    @Test("BLOB and NULL bindings are distinguished")
    func blobs() throws {
        let db = try SQLiteConnection(path: ":memory:", flags: SQLiteConnection.writerFlags)
        try db.execute("CREATE TABLE t (id INTEGER, b BLOB)")
        for (id, value) in [(1, nil), (2, []), (3, [0, 1, 255])] as [(Int, [UInt8]?)] {
            let insert = try db.cachedStatement("INSERT INTO t VALUES (?1, ?2)")
            try insert.bind(id, at: 1)
            try insert.bind(value, at: 2)
            try insert.step()
            insert.reset()
        }
        let rows = try db.withStatement("SELECT b IS NULL, b FROM t ORDER BY id") {
            (statement) throws(SQLiteError) -> [[UInt8]?] in
            var rows: [[UInt8]?] = []
            while try statement.step() { rows.append(statement.isNull(1) ? nil : statement.blob(1)) }
            return rows
        }
        #expect(rows == [nil, [], [0, 1, 255]])
        try db.close()
    }

    @Test("opening a directory fails with SQLITE_CANTOPEN and leaks nothing")
    func openFailure() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let error = #expect(throws: SQLiteError.self) {
                try SQLiteConnection(path: directory.path, flags: SQLiteConnection.writerFlags)
            }
            #expect(error.map { SQLiteResultCode.cantOpen ~= $0.code } == true)
            #expect(error?.message.contains(directory.path) == true)
        }
    }

    @Test("a syntax error carries SQLite's message")
    func syntaxError() throws {
        let db = try SQLiteConnection(path: ":memory:", flags: SQLiteConnection.writerFlags)
        let error = #expect(throws: SQLiteError.self) { try db.execute("SELEKT 1") }
        #expect(error?.code == .error)
        #expect(error?.message.contains("syntax error") == true)
        try db.close()
    }
}
