/// One step of the schema's history. The schema version is SQLite's `PRAGMA user_version` ("an integer that is
/// available to applications to use however they want. SQLite makes no use of the user-version itself").
struct Migration: Sendable {
    /// The `user_version` after this step.
    var version: Int64
    var name: String
    /// SQL run inside the migration's transaction.
    var sql: String
}

/// The migrations, oldest first. Append new ones; never edit a shipped one.
enum Migrations {
    static let all: [Migration] = [
        Migration(
            version: 1,
            name: "create records",
            sql: """
                CREATE TABLE records (
                    scope            TEXT    NOT NULL,
                    key              TEXT    NOT NULL,
                    state            INTEGER NOT NULL,  -- 0 in_flight, 1 completed
                    fingerprint      BLOB    NOT NULL,
                    owner            TEXT    NOT NULL,
                    created_at       INTEGER NOT NULL,  -- ms since 1970
                    lease_expires_at INTEGER NOT NULL,
                    expires_at       INTEGER NOT NULL,
                    method           TEXT    NOT NULL,
                    path             TEXT    NOT NULL,
                    status           INTEGER,           -- the stored response, NULL while in flight
                    headers          BLOB,              -- HeaderCodec
                    body             BLOB,
                    body_encoding    INTEGER,           -- 0 identity, 1 zlib (BodyCompression)
                    body_size        INTEGER,           -- uncompressed length, bounds decompression
                    PRIMARY KEY (scope, key)
                ) WITHOUT ROWID;
                CREATE INDEX records_expires_at ON records (expires_at);
                """
        )
    ]

    /// The version a fully migrated database has.
    static var latestVersion: Int64 { all.last?.version ?? 0 }

    /// Brings the database on `connection` up to ``latestVersion``, one transaction per step.
    /// - Returns: the names of the steps applied.
    /// - Throws: ``KeyStoreError/database(code:message:)`` when SQLite fails or the file was written by a newer
    ///   version of the gateway (a schema this code does not know).
    static func migrate(_ connection: SQLiteConnection) throws(KeyStoreError) -> [String] {
        var applied: [String] = []
        do throws(SQLiteError) {
            let current = try connection.scalarInt("PRAGMA user_version") ?? 0
            if current > latestVersion {
                throw SQLiteError(
                    code: .error,
                    message: "database schema version \(current) is newer than this build supports (\(latestVersion))"
                )
            }
            for migration in all where migration.version > current {
                // BEGIN IMMEDIATE takes the write lock first, so two processes opening the same new file cannot
                // both decide to run the same step.
                try connection.execute("BEGIN IMMEDIATE")
                do throws(SQLiteError) {
                    // Re-read inside the lock: another process may have migrated meanwhile.
                    let now = try connection.scalarInt("PRAGMA user_version") ?? 0
                    if now < migration.version {
                        try connection.execute(migration.sql)
                        try connection.execute("PRAGMA user_version = \(migration.version)")
                        applied.append(migration.name)
                    }
                    try connection.execute("COMMIT")
                } catch {
                    if connection.isInTransaction { try? connection.execute("ROLLBACK") }
                    throw error
                }
            }
        } catch {
            throw error.keyStoreError
        }
        return applied
    }
}
