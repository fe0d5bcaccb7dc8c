import GatewayStore

/// The store micro-benchmark behind `idempotency-gateway bench-store` (run by `scripts/bench.sh`): claims and
/// completions per second through ``SQLiteKeyStore`` (group commit) next to raw SQLite inserts with the same
/// settings, printed as a table.
public enum StoreBenchmarkRunner {
    public static func run(path: String, operations: Int, concurrency: Int) async throws -> String {
        try await StoreBenchmark.run(path: path, operations: operations, concurrency: concurrency)
    }
}
