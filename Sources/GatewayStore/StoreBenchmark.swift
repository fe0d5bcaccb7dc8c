import Foundation
import Logging

/// A micro-benchmark of the store's write path (for a CLI subcommand).
///
/// It measures, on fresh files:
/// - `claim` on new keys and `complete` through ``SQLiteKeyStore`` with `concurrency` concurrent callers, so group
///   commit batches them;
/// - raw SQLite INSERTs into the same table with the same PRAGMAs (WAL, `synchronous`): one row per transaction, and
///   `maxBatch` rows per transaction — the floor and the ceiling that group commit sits between.
public enum StoreBenchmark {
    /// Runs the benchmark and returns a printable table.
    /// - Parameters:
    ///   - path: the database file to create; `path + "-raw"` is used for the raw SQLite runs. Both must not exist
    ///     (the benchmark refuses to touch existing data) and both are deleted afterwards.
    ///   - operations: claims (and completions, and raw inserts) per measurement.
    ///   - concurrency: concurrent callers of the store.
    public static func run(path: String, operations: Int, concurrency: Int) async throws -> String {
        let rawPath = path + "-raw"
        for file in [path, rawPath] where FileManager.default.fileExists(atPath: file) {
            throw KeyStoreError.unavailable("\(file) exists; the benchmark needs a fresh path")
        }
        defer {
            for file in [path, rawPath] {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
            }
        }
        let operations = max(1, operations)
        let concurrency = max(1, concurrency)
        var options = SQLiteKeyStore.Options()
        options.logger.logLevel = .warning  // no "schema migrated" lines in the middle of the table
        var rows: [Row] = []

        let store = try SQLiteKeyStore(path: path, options: options)
        let claims = (0..<operations).map { makeClaim(index: $0) }
        rows.append(
            try await measure("SQLiteKeyStore.claim, new keys, \(callers(concurrency))", operations) {
                try await forEach(claims, concurrency: concurrency) { claim in
                    guard case .claimed = try await store.claim(claim, likelyNew: true) else {
                        throw KeyStoreError.corrupt("benchmark: a new key was not claimed")
                    }
                }
            })
        let response = StoredResponse(
            status: 201, fields: [.init(name: "Content-Type", value: "application/json")],
            body: Array(#"{"id":"1234","status":"created"}"#.utf8))
        rows.append(
            try await measure("SQLiteKeyStore.complete, \(callers(concurrency))", operations) {
                try await forEach(claims, concurrency: concurrency) { claim in
                    guard try await store.complete(claim.key, owner: claim.owner, response: response, expiresAt: 1 << 50)
                    else { throw KeyStoreError.corrupt("benchmark: completion refused") }
                }
            })
        let sequential = Array(claims.prefix(max(1, operations / 4))).enumerated().map { index, claim in
            var claim = claim
            claim.key.key = "seq-\(index)"
            return claim
        }
        rows.append(
            try await measure("SQLiteKeyStore.claim, new keys, 1 caller, serial", sequential.count) {
                for claim in sequential { _ = try await store.claim(claim, likelyNew: true) }
            })
        await store.close()

        let raw = try SQLiteKeyStore.openWriter(path: rawPath, options: options)
        defer { try? raw.close() }
        let single = Array(claims.prefix(max(1, operations / 4)))
        rows.append(
            try await measure("raw INSERT, 1 row per transaction", single.count) {
                for claim in single {
                    try raw.run("BEGIN IMMEDIATE")
                    try RecordsTable.insert(claim, on: raw)
                    try raw.run("COMMIT")
                }
            })
        let batched = claims.map { claim in
            var claim = claim
            claim.key.scope = "batched"
            return claim
        }
        rows.append(
            try await measure("raw INSERT, \(options.maxBatch) rows per transaction", batched.count) {
                var index = 0
                while index < batched.count {
                    try raw.run("BEGIN IMMEDIATE")
                    for claim in batched[index..<min(batched.count, index + options.maxBatch)] {
                        try RecordsTable.insert(claim, on: raw)
                    }
                    try raw.run("COMMIT")
                    index += options.maxBatch
                }
            })
        return format(rows, options: options, operations: operations, concurrency: concurrency)
    }

    private static func callers(_ count: Int) -> String { count == 1 ? "1 caller" : "\(count) callers" }

    private struct Row {
        var name: String
        var operations: Int
        var seconds: Double
    }

    private static func measure(
        _ name: String, _ operations: Int, _ body: () async throws -> Void
    ) async throws -> Row {
        let clock = ContinuousClock()
        let start = clock.now
        try await body()
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return Row(name: name, operations: operations, seconds: seconds)
    }

    /// Runs `body` over `items` with `concurrency` tasks, each taking every `concurrency`-th item.
    private static func forEach<Item: Sendable>(
        _ items: [Item], concurrency: Int, _ body: @escaping @Sendable (Item) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for index in stride(from: worker, to: items.count, by: concurrency) { try await body(items[index]) }
                }
            }
            try await group.waitForAll()
        }
    }

    private static func makeClaim(index: Int) -> Claim {
        let fingerprint = (0..<32).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0) }
        return Claim(
            key: RecordKey(scope: "bench", key: "key-\(index)-\(UInt32.random(in: 0...UInt32.max))"),
            fingerprint: fingerprint, owner: .random(), now: 1_000, leaseExpiresAt: 1_000 + 30_000,
            expiresAt: 1_000 + 86_400_000, method: "POST", path: "/v1/payments")
    }

    private static func format(_ rows: [Row], options: SQLiteKeyStore.Options, operations: Int, concurrency: Int)
        -> String
    {
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return left ? padding + text : text + padding
        }
        var lines = [
            "store benchmark: \(operations) operations, \(concurrency) concurrent callers, WAL, "
                + "synchronous=\(options.synchronous.rawValue), maxBatch=\(options.maxBatch)",
            pad("measurement", 50) + pad("ops", 8, left: true) + pad("seconds", 10, left: true)
                + pad("ops/s", 11, left: true),
        ]
        for row in rows {
            let rate = row.seconds > 0 ? Double(row.operations) / row.seconds : 0
            lines.append(
                pad(row.name, 50) + pad("\(row.operations)", 8, left: true)
                    + pad(String(format: "%.3f", row.seconds), 10, left: true)
                    + pad(String(format: "%.0f", rate), 11, left: true))
        }
        return lines.joined(separator: "\n")
    }
}
