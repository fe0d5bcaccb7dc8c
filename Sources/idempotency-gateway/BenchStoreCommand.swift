import ArgumentParser
import IdempotencyGateway

/// `idempotency-gateway bench-store`: the key store micro-benchmark (a fresh database file, deleted afterwards).
struct BenchStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-store",
        abstract: "Measure key-store claims and completions per second against raw SQLite inserts.")

    @Option(help: "A database path that does not exist yet; it is created and removed.")
    var path: String

    @Option(help: "Operations per measurement.")
    var operations = 20_000

    @Option(help: "Concurrent callers (group commit batches their writes).")
    var concurrency = 64

    func run() async throws {
        print(try await StoreBenchmarkRunner.run(path: path, operations: operations, concurrency: concurrency))
    }
}
