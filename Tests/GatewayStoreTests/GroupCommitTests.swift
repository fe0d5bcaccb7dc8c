import CSQLite
import Logging
import Testing

@testable import GatewayStore

/// The writer's batch rules, driven directly on a connection.
@Suite("Group commit")
struct GroupCommitTests {
    private func database() throws -> SQLiteConnection {
        let db = try SQLiteConnection(path: ":memory:", flags: SQLiteConnection.writerFlags)
        _ = try Migrations.migrate(db)
        return db
    }

    private func count(_ db: SQLiteConnection) throws -> Int64 {
        try db.scalarInt("SELECT count(*) FROM records") ?? -1
    }

    @Test("a batch runs in one transaction and every operation gets its own result")
    func results() throws {
        let db = try database()
        let a = makeClaim("a")
        let operations: [WriteOperation] = [
            .claim(a, likelyNew: true),
            .claim(makeClaim("a"), likelyNew: true),  // sees the first claim of the same batch
            .claim(makeClaim("b"), likelyNew: false),
            .release(a.key, owner: a.owner),
            .delete(RecordKey(scope: "none", key: "none")),
        ]
        let results = GroupCommitWriter.run(operations, on: db, logger: Logger(label: "test"))
        #expect(results.count == 5)
        guard case .success(.claimed(tookOver: false)) = results[0] else { Issue.record("\(results[0])"); return }
        guard case .success(.inFlight(let raw)) = results[1] else { Issue.record("\(results[1])"); return }
        #expect(raw.owner == a.owner.rawValue)
        guard case .success(.claimed(tookOver: false)) = results[2] else { Issue.record("\(results[2])"); return }
        guard case .success(.changed(true)) = results[3] else { Issue.record("\(results[3])"); return }
        guard case .success(.changed(false)) = results[4] else { Issue.record("\(results[4])"); return }
        #expect(!db.isInTransaction)
        #expect(try count(db) == 1)
        try db.close()
    }

    @Test("a database error (disk full) fails the whole batch and applies none of it")
    func diskFull() throws {
        let db = try database()
        try RecordsTable.insert(makeClaim("existing"), on: db)
        let pages = try db.scalarInt("PRAGMA page_count") ?? 0
        // A database that cannot grow: SQLITE_FULL as on a full disk.
        _ = try db.scalarInt("PRAGMA max_page_count = \(pages)")
        let operations: [WriteOperation] = (0..<200).map { index in
            var claim = makeClaim("k\(index)")
            claim.path = String(repeating: "p", count: 500)
            return .claim(claim, likelyNew: true)
        }
        let results = GroupCommitWriter.run(operations, on: db, logger: Logger(label: "test"))
        #expect(results.count == 200)
        for result in results {
            guard case .failure(.database(let code, _)) = result else {
                Issue.record("expected a database error, got \(result)")
                return
            }
            #expect(code & 0xFF == 13)  // SQLITE_FULL
        }
        #expect(!db.isInTransaction)
        #expect(try count(db) == 1, "nothing of the failed batch is applied")
        try db.close()
    }

    @Test("an operation's own error (too big) fails only that operation")
    func ownError() throws {
        let db = try database()
        // Lower the string/BLOB length limit so one operation's data is too big.
        let previous = sqlite3_limit(db.handle, SQLITE_LIMIT_LENGTH, 10_000)
        #expect(previous > 10_000)
        var big = makeClaim("big")
        big.path = String(repeating: "p", count: 20_000)
        let operations: [WriteOperation] = [
            .claim(makeClaim("a"), likelyNew: true),
            .claim(big, likelyNew: true),
            .claim(makeClaim("c"), likelyNew: true),
        ]
        let results = GroupCommitWriter.run(operations, on: db, logger: Logger(label: "test"))
        guard case .success(.claimed) = results[0], case .success(.claimed) = results[2] else {
            Issue.record("\(results)")
            return
        }
        guard case .failure(.database(let code, _)) = results[1] else {
            Issue.record("\(results[1])")
            return
        }
        #expect(code == 18)  // SQLITE_TOOBIG
        #expect(try count(db) == 2)
        try db.close()
    }
}
