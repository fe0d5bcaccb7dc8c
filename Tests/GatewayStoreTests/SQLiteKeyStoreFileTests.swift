import Foundation
import Testing

@testable import GatewayStore

/// What only the SQLite store does: files, schema, durability, damage.
@Suite("SQLiteKeyStore files")
struct SQLiteKeyStoreFileTests {
    @Test("records survive close and reopen")
    func reopen() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("store.sqlite").path
            let claim = makeClaim("k1")
            let response = makeResponse(body: compressibleBody(10_000))
            let store = try SQLiteKeyStore(path: path)
            _ = try await store.claim(claim, likelyNew: true)
            _ = try await store.complete(claim.key, owner: claim.owner, response: response, expiresAt: t0 + ttl)
            _ = try await store.claim(makeClaim("k2"), likelyNew: true)
            await store.close()

            let reopened = try SQLiteKeyStore(path: path)
            #expect(try await reopened.record(for: claim.key)?.response == response)
            #expect(try await reopened.record(for: RecordKey(scope: "tenant-a", key: "k2"))?.state == .inFlight)
            guard case .completed = try await reopened.claim(makeClaim("k1"), likelyNew: true) else {
                Issue.record("expected .completed after reopen")
                return
            }
            await reopened.close()
        }
    }

    @Test("the background checkpointer copies the WAL into the database file while the store is open")
    func backgroundCheckpoints() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("store.sqlite").path
            var options = SQLiteKeyStore.Options()
            options.checkpointInterval = .milliseconds(10)
            let store = try SQLiteKeyStore(path: path, options: options)
            let checkpointer = try #require(store.checkpointer)
            let sizeBefore = try fileSize(path)
            for index in 0..<400 {
                let claim = makeClaim("k\(index)")
                _ = try await store.claim(claim, likelyNew: true)
                _ = try await store.complete(
                    claim.key, owner: claim.owner, response: makeResponse(body: randomBody(2_000)), expiresAt: t0 + ttl)
            }
            // Without the writer checkpointing (its threshold is 64 MiB of WAL), the database file only grows by
            // the checkpointer's work.
            let start = ContinuousClock.now
            while try fileSize(path) < sizeBefore + 400 * 2_000, ContinuousClock.now - start < .seconds(10) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try fileSize(path) >= sizeBefore + 400 * 2_000)
            #expect(checkpointer.checkpointsRun.load(ordering: .relaxed) > 0)
            await store.close()

            let reopened = try SQLiteKeyStore(path: path)
            #expect(try await reopened.record(for: RecordKey(scope: "tenant-a", key: "k399"))?.state == .completed)
            await reopened.close()

            var automatic = SQLiteKeyStore.Options()
            automatic.checkpointInterval = nil
            let plain = try SQLiteKeyStore(path: path, options: automatic)
            #expect(plain.checkpointer == nil)
            await plain.close()
        }
    }

    private func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test("a returned claim is already in the files (as a kill -9 would leave them)")
    func durableBeforeReturn() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("store.sqlite").path
            let store = try SQLiteKeyStore(path: path)
            let claims = (0..<20).map { makeClaim("k\($0)") }
            for claim in claims { _ = try await store.claim(claim, likelyNew: true) }
            // Copy the database and its WAL while the store is still open: the state a crash leaves on disk.
            let crash = directory.appendingPathComponent("crash", isDirectory: true)
            try FileManager.default.createDirectory(at: crash, withIntermediateDirectories: true)
            for suffix in ["", "-wal"] {
                try FileManager.default.copyItem(
                    atPath: path + suffix, toPath: crash.appendingPathComponent("store.sqlite" + suffix).path)
            }
            let recovered = try SQLiteKeyStore(path: crash.appendingPathComponent("store.sqlite").path)
            for claim in claims {
                #expect(try await recovered.record(for: claim.key)?.owner == claim.owner)
            }
            await recovered.close()
            await store.close()
        }
    }

    @Test("an empty file is migrated: user_version, WAL, table and index")
    func migratesEmptyFile() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("empty.sqlite").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))
            let store = try SQLiteKeyStore(path: path)
            let db = try SQLiteConnection(path: path, flags: SQLiteConnection.readerFlags)
            #expect(try db.scalarInt("PRAGMA user_version") == Migrations.latestVersion)
            #expect(try db.scalarText("PRAGMA journal_mode") == "wal")
            #expect(try db.column("SELECT name FROM sqlite_schema ORDER BY name") == ["records", "records_expires_at"])
            #expect(try db.column("PRAGMA quick_check") == ["ok"])
            try db.close()
            await store.close()
            // Opening again applies nothing and keeps the version.
            let again = try SQLiteKeyStore(path: path)
            await again.close()
        }
    }

    @Test("the parent directory is created when missing")
    func createsDirectory() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("a/b/c/store.sqlite").path
            let store = try SQLiteKeyStore(path: path)
            _ = try await store.claim(makeClaim("k"), likelyNew: true)
            await store.close()
            #expect(FileManager.default.fileExists(atPath: path))
        }
    }

    @Test("a schema from a newer build is refused")
    func newerSchema() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("store.sqlite").path
            await (try SQLiteKeyStore(path: path)).close()
            let db = try SQLiteConnection(path: path, flags: SQLiteConnection.writerFlags)
            try db.execute("PRAGMA user_version = 99")
            try db.close()
            do throws(KeyStoreError) {
                _ = try SQLiteKeyStore(path: path)
                Issue.record("expected an error")
            } catch {
                guard case .database(let code, let message) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(code == 1)
                #expect(message.contains("newer"))
            }
        }
    }

    @Test("a damaged file fails quick_check with .corrupt")
    func quickCheck() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("store.sqlite").path
            let store = try SQLiteKeyStore(path: path)
            for index in 0..<400 {
                let claim = makeClaim("key-\(index)-\(String(repeating: "x", count: 40))")
                _ = try await store.claim(claim, likelyNew: true)
            }
            await store.close()  // checkpoints the WAL into the main file
            let handle = try #require(FileHandle(forUpdatingAtPath: path))
            let size = try handle.seekToEnd()
            #expect(size > 8 * 4096)
            // Overwrite pages 4 and 5 (table and index b-tree pages) with junk.
            try handle.seek(toOffset: 3 * 4096)
            handle.write(Data(repeating: 0xA5, count: 2 * 4096))
            try handle.close()
            do throws(KeyStoreError) {
                _ = try SQLiteKeyStore(path: path)
                Issue.record("expected .corrupt")
            } catch {
                guard case .corrupt(let message) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(message.contains("quick_check"))
            }
        }
    }

    @Test("a file that is not a database gives a KeyStoreError, not a crash")
    func notADatabase() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("junk.sqlite").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data(randomBody(8192))))
            #expect(throws: KeyStoreError.self) { try SQLiteKeyStore(path: path) }
            var options = SQLiteKeyStore.Options()
            options.quickCheckAtOpen = false
            do throws(KeyStoreError) {
                _ = try SQLiteKeyStore(path: path, options: options)
                Issue.record("expected an error")
            } catch {
                guard case .database(let code, let message) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(code == 26)  // SQLITE_NOTADB
                #expect(message.contains("not a database"))
            }
        }
    }

    @Test("an unusable path gives a KeyStoreError, not a crash")
    func unusablePath() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let file = directory.appendingPathComponent("plain-file")
            #expect(FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8)))
            // The parent "directory" is a regular file, or under one: it cannot be created, which is not an
            // SQLite error and is not labelled as one.
            for parent in [file, file.appendingPathComponent("sub")] {
                do throws(KeyStoreError) {
                    _ = try SQLiteKeyStore(path: parent.appendingPathComponent("store.sqlite").path)
                    Issue.record("expected an error")
                } catch {
                    guard case .unavailable(let message) = error else {
                        Issue.record("unexpected \(error)")
                        continue
                    }
                    #expect(message.hasPrefix("cannot create the directory \(parent.path) for "), "\(message)")
                }
            }
            // The path is a directory.
            do throws(KeyStoreError) {
                _ = try SQLiteKeyStore(path: directory.path)
                Issue.record("expected an error")
            } catch {
                guard case .database(let code, _) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(code & 0xFF == 14)
            }
        }
    }

    @Test("a lock held beyond busy_timeout fails claims and the write probe with SQLITE_BUSY; the store recovers")
    func busy() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("store.sqlite").path
            var options = SQLiteKeyStore.Options()
            options.busyTimeout = .milliseconds(100)
            let store = try SQLiteKeyStore(path: path, options: options)
            let other = try SQLiteConnection(path: path, flags: SQLiteConnection.writerFlags)
            try other.execute("BEGIN IMMEDIATE")
            do throws(KeyStoreError) {
                _ = try await store.claim(makeClaim("k1"), likelyNew: true)
                Issue.record("expected SQLITE_BUSY")
            } catch {
                guard case .database(let code, _) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(code & 0xFF == 5)  // SQLITE_BUSY
            }
            // Reads are not blocked by the other writer (WAL); the write probe (readiness) is, as a claim.
            #expect(try await store.record(for: RecordKey(scope: "tenant-a", key: "k1")) == nil)
            await #expect(throws: KeyStoreError.self) { try await store.checkWritable() }
            try other.execute("ROLLBACK")
            try other.close()
            try await store.checkWritable()
            #expect(try await store.claim(makeClaim("k1"), likelyNew: true) == .claimed(tookOver: false))
            await store.close()
        }
    }

    @Test("bodies at or above the threshold are stored compressed when that is smaller")
    func compressionColumns() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("store.sqlite").path
            let store = try SQLiteKeyStore(path: path)
            let cases: [(String, [UInt8], Int64)] = [
                ("big", compressibleBody(20_000), 1),
                ("at-threshold", compressibleBody(1024), 1),
                ("below-threshold", compressibleBody(1023), 0),
                ("incompressible", randomBody(4096), 0),
            ]
            for (key, body, _) in cases {
                let claim = makeClaim(key)
                _ = try await store.claim(claim, likelyNew: true)
                _ = try await store.complete(claim.key, owner: claim.owner, response: makeResponse(body: body), expiresAt: t0 + ttl)
            }
            let db = try SQLiteConnection(path: path, flags: SQLiteConnection.readerFlags)
            for (key, body, encoding) in cases {
                let row = try db.cachedStatement(
                    "SELECT body_encoding, body_size, length(body) FROM records WHERE key = ?1")
                try row.bind(key, at: 1)
                #expect(try row.step())
                #expect(row.int64(0) == encoding, "\(key)")
                #expect(row.int64(1) == Int64(body.count))
                if encoding == 1 { #expect(row.int64(2) < Int64(body.count)) }
                row.reset()
                #expect(try await store.record(for: RecordKey(scope: "tenant-a", key: key))?.response?.body == body)
            }
            try db.close()
            await store.close()
        }
    }

    @Test("a damaged stored body or header block is reported as .corrupt")
    func corruptRow() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("store.sqlite").path
            let store = try SQLiteKeyStore(path: path)
            for key in ["body", "headers", "state"] {
                let claim = makeClaim(key)
                _ = try await store.claim(claim, likelyNew: true)
                _ = try await store.complete(
                    claim.key, owner: claim.owner, response: makeResponse(body: compressibleBody(5_000)), expiresAt: t0 + ttl)
            }
            let db = try SQLiteConnection(path: path, flags: SQLiteConnection.writerFlags)
            try db.execute("UPDATE records SET body = x'789c0badcafe' WHERE key = 'body'")
            try db.execute("UPDATE records SET headers = x'0105ff' WHERE key = 'headers'")
            try db.execute("UPDATE records SET state = 7 WHERE key = 'state'")
            try db.close()
            for key in ["body", "headers", "state"] {
                let recordKey = RecordKey(scope: "tenant-a", key: key)
                do throws(KeyStoreError) {
                    _ = try await store.record(for: recordKey)
                    Issue.record("expected .corrupt for \(key)")
                } catch {
                    guard case .corrupt = error else {
                        Issue.record("unexpected \(error)")
                        continue
                    }
                }
                // The claim path reports it too, and the row can still be deleted.
                await #expect(throws: KeyStoreError.self) { try await store.claim(makeClaim(key), likelyNew: false) }
                #expect(try await store.delete(recordKey))
            }
            await store.close()
        }
    }
}
