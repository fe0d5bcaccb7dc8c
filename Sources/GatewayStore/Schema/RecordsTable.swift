/// The SQL of the `records` table, one function per statement. Every function runs on the connection's own thread;
/// the write functions run inside the writer's transaction.
enum RecordsTable {
    static let columns = """
        state, fingerprint, owner, created_at, lease_expires_at, expires_at, method, path, \
        status, headers, body, body_encoding, body_size
        """

    /// An in-flight row for `claim`. Throws SQLITE_CONSTRAINT_PRIMARYKEY when the key exists.
    static func insert(_ claim: Claim, on db: SQLiteConnection) throws(SQLiteError) {
        try db.withStatement(
            """
            INSERT INTO records (scope, key, state, fingerprint, owner, created_at, lease_expires_at, expires_at, \
            method, path) VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            """
        ) { (statement) throws(SQLiteError) in
            try bindKey(claim.key, statement)
            try statement.bind(claim.fingerprint, at: 3)
            try statement.bind(claim.owner.rawValue, at: 4)
            try statement.bind(claim.now, at: 5)
            try statement.bind(claim.leaseExpiresAt, at: 6)
            try statement.bind(claim.expiresAt, at: 7)
            try statement.bind(claim.method, at: 8)
            try statement.bind(claim.path, at: 9)
            try statement.step()
        }
    }

    static func fetch(_ key: RecordKey, on db: SQLiteConnection) throws(SQLiteError) -> RawRecord? {
        try db.withStatement("SELECT \(columns) FROM records WHERE scope = ?1 AND key = ?2") {
            (statement) throws(SQLiteError) -> RawRecord? in
            try bindKey(key, statement)
            guard try statement.step() else { return nil }
            return RawRecord(
                key: key,
                state: statement.int64(0),
                fingerprint: statement.blob(1),
                owner: statement.text(2),
                createdAt: statement.int64(3),
                leaseExpiresAt: statement.int64(4),
                expiresAt: statement.int64(5),
                method: statement.text(6),
                path: statement.text(7),
                status: statement.isNull(8) ? nil : statement.int64(8),
                headers: statement.isNull(9) ? nil : statement.blob(9),
                body: statement.isNull(10) ? nil : statement.blob(10),
                bodyEncoding: statement.isNull(11) ? nil : statement.int64(11),
                bodySize: statement.isNull(12) ? nil : statement.int64(12))
        }
    }

    /// Takes over an in-flight row whose lease ended: new owner, fingerprint, lease and request line; `created_at`
    /// stays.
    static func takeOver(_ claim: Claim, on db: SQLiteConnection) throws(SQLiteError) {
        try db.withStatement(
            """
            UPDATE records SET owner = ?3, fingerprint = ?4, lease_expires_at = ?5, expires_at = ?6, method = ?7, \
            path = ?8 WHERE scope = ?1 AND key = ?2
            """
        ) { (statement) throws(SQLiteError) in
            try bindKey(claim.key, statement)
            try statement.bind(claim.owner.rawValue, at: 3)
            try statement.bind(claim.fingerprint, at: 4)
            try statement.bind(claim.leaseExpiresAt, at: 5)
            try statement.bind(claim.expiresAt, at: 6)
            try statement.bind(claim.method, at: 7)
            try statement.bind(claim.path, at: 8)
            try statement.step()
        }
    }

    /// Replaces an expired completed row with a fresh in-flight one (as if it had been deleted and inserted).
    static func replace(_ claim: Claim, on db: SQLiteConnection) throws(SQLiteError) {
        try db.withStatement(
            """
            UPDATE records SET state = 0, fingerprint = ?3, owner = ?4, created_at = ?5, lease_expires_at = ?6, \
            expires_at = ?7, method = ?8, path = ?9, status = NULL, headers = NULL, body = NULL, \
            body_encoding = NULL, body_size = NULL WHERE scope = ?1 AND key = ?2
            """
        ) { (statement) throws(SQLiteError) in
            try bindKey(claim.key, statement)
            try statement.bind(claim.fingerprint, at: 3)
            try statement.bind(claim.owner.rawValue, at: 4)
            try statement.bind(claim.now, at: 5)
            try statement.bind(claim.leaseExpiresAt, at: 6)
            try statement.bind(claim.expiresAt, at: 7)
            try statement.bind(claim.method, at: 8)
            try statement.bind(claim.path, at: 9)
            try statement.step()
        }
    }

    /// Stores the response if `owner` holds the in-flight row. Returns whether a row changed.
    static func complete(
        _ key: RecordKey, owner: OwnerToken, response: EncodedResponse, expiresAt: Timestamp, on db: SQLiteConnection
    ) throws(SQLiteError) -> Bool {
        try db.withStatement(
            """
            UPDATE records SET state = 1, status = ?4, headers = ?5, body = ?6, body_encoding = ?7, body_size = ?8, \
            expires_at = ?9 WHERE scope = ?1 AND key = ?2 AND owner = ?3 AND state = 0
            """
        ) { (statement) throws(SQLiteError) -> Bool in
            try bindKey(key, statement)
            try statement.bind(owner.rawValue, at: 3)
            try statement.bind(response.status, at: 4)
            try statement.bind(response.headers, at: 5)
            try statement.bind(response.body, at: 6)
            try statement.bind(response.bodyEncoding, at: 7)
            try statement.bind(response.bodySize, at: 8)
            try statement.bind(expiresAt, at: 9)
            try statement.step()
            return db.changes == 1
        }
    }

    /// Deletes the in-flight row if `owner` holds it.
    static func release(_ key: RecordKey, owner: OwnerToken, on db: SQLiteConnection) throws(SQLiteError) -> Bool {
        try db.withStatement("DELETE FROM records WHERE scope = ?1 AND key = ?2 AND owner = ?3 AND state = 0") {
            (statement) throws(SQLiteError) -> Bool in
            try bindKey(key, statement)
            try statement.bind(owner.rawValue, at: 3)
            try statement.step()
            return db.changes == 1
        }
    }

    static func delete(_ key: RecordKey, on db: SQLiteConnection) throws(SQLiteError) -> Bool {
        try db.withStatement("DELETE FROM records WHERE scope = ?1 AND key = ?2") {
            (statement) throws(SQLiteError) -> Bool in
            try bindKey(key, statement)
            try statement.step()
            return db.changes == 1
        }
    }

    /// Deletes up to `limit` rows with `expires_at <= now` (found through the `records_expires_at` index).
    static func deleteExpired(now: Timestamp, limit: Int, on db: SQLiteConnection) throws(SQLiteError) -> Int {
        try db.withStatement(
            """
            DELETE FROM records WHERE (scope, key) IN \
            (SELECT scope, key FROM records WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)
            """
        ) { (statement) throws(SQLiteError) -> Int in
            try statement.bind(now, at: 1)
            try statement.bind(Int64(limit), at: 2)
            try statement.step()
            return db.changes
        }
    }

    /// Up to `limit` keys in primary-key order, starting after `after` (keyset pagination, so each page is an
    /// index seek and no read transaction stays open between pages).
    static func keys(after: RecordKey?, limit: Int, on db: SQLiteConnection) throws(SQLiteError) -> [RecordKey] {
        let sql =
            after == nil
            ? "SELECT scope, key FROM records ORDER BY scope, key LIMIT ?3"
            : "SELECT scope, key FROM records WHERE (scope, key) > (?1, ?2) ORDER BY scope, key LIMIT ?3"
        return try db.withStatement(sql) { (statement) throws(SQLiteError) -> [RecordKey] in
            if let after { try bindKey(after, statement) }
            try statement.bind(Int64(limit), at: 3)
            var keys: [RecordKey] = []
            keys.reserveCapacity(limit)
            while try statement.step() {
                keys.append(RecordKey(scope: statement.text(0), key: statement.text(1)))
            }
            return keys
        }
    }

    /// Live in-flight, live completed and expired (either state) row counts, and the live in-flight ones whose lease
    /// is over (a subset of the first), at `now`.
    static func counts(now: Timestamp, on db: SQLiteConnection) throws(SQLiteError) -> (Int, Int, Int, Int) {
        try db.withStatement(
            """
            SELECT coalesce(sum(state = 0 AND expires_at > ?1), 0), coalesce(sum(state = 1 AND expires_at > ?1), 0), \
            coalesce(sum(expires_at <= ?1), 0), \
            coalesce(sum(state = 0 AND expires_at > ?1 AND lease_expires_at <= ?1), 0) FROM records
            """
        ) { (statement) throws(SQLiteError) -> (Int, Int, Int, Int) in
            try statement.bind(now, at: 1)
            guard try statement.step() else { return (0, 0, 0, 0) }
            return (
                Int(statement.int64(0)), Int(statement.int64(1)), Int(statement.int64(2)), Int(statement.int64(3))
            )
        }
    }

    private static func bindKey(_ key: RecordKey, _ statement: SQLiteStatement) throws(SQLiteError) {
        try statement.bind(key.scope, at: 1)
        try statement.bind(key.key, at: 2)
    }
}
