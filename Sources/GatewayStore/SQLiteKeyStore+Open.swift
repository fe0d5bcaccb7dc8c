import Foundation

/// Opening the database: the directory, the connection settings, the integrity check and the schema.
extension SQLiteKeyStore {
    /// Whether `path` names an in-memory database (one connection, shared by reads and writes).
    static func isInMemory(_ path: String) -> Bool {
        path == ":memory:" || path.isEmpty || (path.hasPrefix("file:") && path.contains("mode=memory"))
    }

    /// Creates the parent directory of a file path if it is missing.
    static func createParentDirectory(of path: String) throws(KeyStoreError) {
        guard !isInMemory(path), !path.hasPrefix("file:") else { return }
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return
        }
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw .unavailable("cannot create the directory \(parent.path) for \(path): \(error.localizedDescription)")
        }
    }

    /// Opens and prepares the writer connection: busy timeout, quick_check, WAL, synchronous, migrations.
    static func openWriter(path: String, options: Options) throws(KeyStoreError) -> SQLiteConnection {
        let db: SQLiteConnection
        do throws(SQLiteError) {
            db = try SQLiteConnection(path: path, flags: SQLiteConnection.writerFlags)
        } catch {
            throw error.keyStoreError
        }
        do throws(KeyStoreError) {
            try configureWriter(db, path: path, options: options)
            let applied = try Migrations.migrate(db)
            if !applied.isEmpty {
                options.logger.info(
                    "store schema migrated",
                    metadata: ["path": "\(path)", "steps": "\(applied)", "version": "\(Migrations.latestVersion)"])
            }
            return db
        } catch {
            try? db.close()
            throw error
        }
    }

    private static func configureWriter(_ db: SQLiteConnection, path: String, options: Options) throws(KeyStoreError) {
        try sqlite { () throws(SQLiteError) in try db.setBusyTimeout(milliseconds: options.busyTimeoutMilliseconds) }
        if options.quickCheckAtOpen {
            // "PRAGMA quick_check … returns a single row with the value 'ok'" when no problems are found
            // (sqlite.org/pragma.html#pragma_quick_check); otherwise one row per problem.
            let problems: [String]
            do throws(SQLiteError) {
                problems = try db.column("PRAGMA quick_check")
            } catch where error.code == .corrupt || error.code == .notADatabase {
                // Damage bad enough that the check itself cannot run (or not a database file at all).
                throw .corrupt("\(path) failed PRAGMA quick_check: \(error.message)")
            } catch {
                throw error.keyStoreError
            }
            if problems != ["ok"] {
                throw .corrupt("\(path) failed PRAGMA quick_check: \(problems.prefix(5).joined(separator: "; "))")
            }
        }
        if !isInMemory(path) {
            // "The WAL journaling mode is persistent; after being set it stays in effect across multiple database
            // connections and after closing and reopening the database." Readers then never block the writer and
            // the writer never blocks readers.
            let mode = try sqlite { () throws(SQLiteError) in try db.scalarText("PRAGMA journal_mode = WAL") }
            if mode?.lowercased() != "wal" {
                throw SQLiteError(code: .error, message: "cannot switch \(path) to WAL (journal_mode=\(mode ?? "?"))")
                    .keyStoreError
            }
        }
        if !isInMemory(path), options.checkpointInterval != nil {
            // The background checkpointer does the work; the writer's own automatic checkpoint is only a backstop.
            try sqlite { () throws(SQLiteError) in
                try db.execute("PRAGMA wal_autocheckpoint = \(max(1, options.backstopCheckpointPages))")
                // Under sustained load the WAL can outgrow the backstop while the background checkpoint holds the
                // checkpoint lock; once it restarts, a WAL file larger than twice the backstop is truncated back to
                // that. (At the backstop itself, truncating and regrowing the file on most restarts cost about
                // 12 % of new-key throughput.)
                try db.execute("PRAGMA journal_size_limit = \(max(1, options.backstopCheckpointPages) * 4096 * 2)")
            }
        }
        try sqlite { () throws(SQLiteError) in
            try db.execute("PRAGMA synchronous = \(options.synchronous.rawValue)")
            // Temporary b-trees (the sweep's ORDER BY) in memory rather than in temp files.
            try db.execute("PRAGMA temp_store = MEMORY")
        }
    }

    /// Opens the background checkpointer's connection (read-write; the writer created the file already).
    static func openCheckpointer(path: String, options: Options) throws(KeyStoreError) -> SQLiteConnection {
        do throws(SQLiteError) {
            let db = try SQLiteConnection(path: path, flags: SQLiteConnection.writerFlags)
            try db.setBusyTimeout(milliseconds: options.busyTimeoutMilliseconds)
            // A checkpoint's syncs follow the setting of the connection that runs it, not the writer's.
            try db.execute("PRAGMA synchronous = \(options.synchronous.rawValue)")
            return db
        } catch {
            throw error.keyStoreError
        }
    }

    /// Opens one read-only pool connection. The writer has created the file and the WAL index already.
    static func openReader(path: String, options: Options) throws(KeyStoreError) -> SQLiteConnection {
        do throws(SQLiteError) {
            let db = try SQLiteConnection(path: path, flags: SQLiteConnection.readerFlags)
            try db.setBusyTimeout(milliseconds: options.busyTimeoutMilliseconds)
            return db
        } catch {
            throw error.keyStoreError
        }
    }

    /// Bytes of the database file and its WAL (0 in memory).
    static func fileBytes(path: String) -> Int64 {
        guard !isInMemory(path) else { return 0 }
        return [path, path + "-wal"].reduce(Int64(0)) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value
            return total + (size ?? 0)
        }
    }
}
