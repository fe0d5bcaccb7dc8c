import Foundation
import Testing

@testable import GatewayStore

@Suite("StoreBenchmark")
struct StoreBenchmarkTests {
    @Test("runs on a fresh path, prints a table and removes its files")
    func smallRun() async throws {
        try await withTemporaryDirectory { (directory) async throws in
            let path = directory.appendingPathComponent("bench.sqlite").path
            let table = try await StoreBenchmark.run(path: path, operations: 400, concurrency: 8)
            #expect(table.contains("SQLiteKeyStore.claim"))
            #expect(table.contains("raw INSERT, 1 row per transaction"))
            #expect(table.split(separator: "\n").count == 7)
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(!FileManager.default.fileExists(atPath: path + "-raw"))
            // It refuses to overwrite existing data.
            #expect(FileManager.default.createFile(atPath: path, contents: Data("keep".utf8)))
            await #expect(throws: KeyStoreError.self) { try await StoreBenchmark.run(path: path, operations: 10, concurrency: 1) }
            #expect(FileManager.default.contents(atPath: path) == Data("keep".utf8))
        }
    }
}
