import GatewayStore
import Idempotency

#if canImport(Glibc)
import Glibc
#endif

/// Offline administration of a key store file, used by `idempotency-gateway keys …`. Safe to run while a
/// gateway uses the same file (SQLite WAL: readers don't block the writer, writes wait for the busy timeout).
public enum KeyAdministration {
    /// A scope as an operator gives it: `keys list` shows the unscoped space (the empty scope) as `-`, which is taken
    /// back as empty here (a real scope is a hex hash), by `keys show`/`keys delete` and by the admin API's `?scope=`.
    public static func scope(_ given: String) -> String { given == "-" ? "" : given }

    /// Why a `keys` command failed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The record for `key` in `scope` as JSON (``RecordJSON``), body included. `key` may be given bare or in its
    /// quoted sf-string form, as clients send it.
    public static func show(key: String, scope: String, storePath: String) async throws -> String {
        let store = try open(storePath)
        let found = try await store.record(for: RecordKey(scope: scope, key: IdempotencyKey.value(of: key)))
        await store.close()
        guard let record = found else {
            throw Failure(description: "no record for key '\(key)' in scope '\(scope)' in \(storePath)")
        }
        return RecordJSON.render(record, includeBody: true, now: IdempotencyEngine.systemNow())
    }

    /// Deletes `keys` in `scope`; the result maps each key to whether it existed.
    public static func delete(keys: [String], scope: String, storePath: String) async throws -> [String: Bool] {
        let store = try open(storePath)
        var result: [String: Bool] = [:]
        for key in keys {
            result[key] = try await store.delete(RecordKey(scope: scope, key: IdempotencyKey.value(of: key)))
        }
        await store.close()
        return result
    }

    /// One line per record, in (scope, key) order, at most `limit` of them: scope (`-` for the unscoped space), key,
    /// state, status, created and expires, tab-separated, after a header line. With `scope`, only that scope's
    /// records. This is how to find the scope to pass to `keys show` for a key a client sent with credentials.
    public static func list(scope: String?, limit: Int, storePath: String) async throws -> String {
        let store = try open(storePath)
        let now = IdempotencyEngine.systemNow()
        var lines = ["scope\tkey\tstate\tstatus\tcreated\texpires"]
        // Keys sort by scope first: a scope's records start right after (scope, "") (no key is empty) and end where
        // the scope changes.
        var after: RecordKey? = scope.map { RecordKey(scope: $0, key: "") }
        listing: while lines.count - 1 < limit {
            let page = try await store.keys(after: after, limit: min(256, limit - (lines.count - 1)))
            for key in page {
                if let scope, key.scope != scope { break listing }
                if let record = try await store.record(for: key) { lines.append(line(record, now: now)) }
            }
            guard let last = page.last else { break }
            after = last
        }
        await store.close()
        return lines.joined(separator: "\n")
    }

    private static func line(_ record: IdempotencyRecord, now: Timestamp) -> String {
        let status = record.response.map { String($0.status) } ?? "-"
        // While in flight, what ends first is the lease (then the key can be taken over).
        let ends = record.state == .inFlight ? min(record.leaseExpiresAt, record.expiresAt) : record.expiresAt
        return [
            record.key.scope.isEmpty ? "-" : record.key.scope, record.key.key, RecordJSON.displayState(record, now: now),
            status, ISOTime.format(record.createdAt), ISOTime.format(ends),
        ].joined(separator: "\t")
    }

    /// Record counts and file size as text.
    public static func stats(storePath: String) async throws -> String {
        let store = try open(storePath)
        let stats = try await store.statistics(now: IdempotencyEngine.systemNow())
        await store.close()
        return """
            store:      \(storePath)
            in_flight:  \(stats.inFlight - stats.leaseEnded)
            lease_ended: \(stats.leaseEnded) (in flight with the lease over: the next request takes the key over)
            completed:  \(stats.completed)
            expired:    \(stats.expired)
            file_bytes: \(stats.fileBytes)
            """
    }

    /// Opens an existing store; a missing file is an error rather than a new empty store.
    private static func open(_ path: String) throws -> SQLiteKeyStore {
        guard path == ":memory:" || access(path, F_OK) == 0 else {
            throw Failure(description: "no key store at \(path) (use --store PATH)")
        }
        // A one-shot command: no background checkpointer (closing the store checkpoints anyway).
        var options = SQLiteKeyStore.Options()
        options.checkpointInterval = nil
        // Whatever the gateway was allowed to store (`idempotency.max-stored-response-bytes` may be over the store's
        // 64 MiB default) is shown: a record's body is still checked against its recorded size, and inflating
        // one stops at that size (and at 4 GiB).
        options.maxBodyBytes = Int.max
        return try SQLiteKeyStore(path: path, options: options)
    }
}
