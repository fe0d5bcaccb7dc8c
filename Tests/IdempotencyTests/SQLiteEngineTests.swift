import Foundation
import GatewayHTTP
import GatewayStore
import HTTPTypes
import Idempotency
import Logging
import Testing
import TestSupport

/// A few end-to-end checks of the engine over the real SQLite store (the other suites use ``TestKeyStore``).
@Suite("Engine over SQLiteKeyStore")
struct SQLiteEngineTests {
    /// A fresh database path in a temporary directory, removed after `body`.
    func withDatabase(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("idempotency-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory.appendingPathComponent("keys.sqlite").path)
    }

    func engine(
        _ store: any KeyStore, backend: TestBackend, clock: TestClock,
        configuration: IdempotencyConfiguration = IdempotencyConfiguration(hotCacheBytes: 0)
    ) -> IdempotencyEngine {
        var logger = Logger(label: "idempotency-sqlite-tests")
        logger.logLevel = .critical
        return IdempotencyEngine(
            configuration: configuration, store: store, next: backend, wallClock: clock.closure, logger: logger)
    }

    @Test func replaySurvivesARestartAndTheBloomFilterIsRebuilt() async throws {
        try await withDatabase { path in
            let clock = TestClock()
            let backend = TestBackend()
            let store = try SQLiteKeyStore(path: path)
            let first = engine(store, backend: backend, clock: clock)
            try await first.start()
            let (original, outcome) = await first.process(makeRequest())
            #expect(outcome == .forwarded)
            await first.shutdown()
            await store.close()

            let reopened = try SQLiteKeyStore(path: path)
            let second = engine(reopened, backend: backend, clock: clock)
            try await second.start()
            #expect(second.bloomFilter.contains(RecordKey(scope: "", key: "abc-123")))
            let (replay, replayed) = await second.process(makeRequest())
            #expect(replayed == .replayed)
            #expect(replay.body == original.body)
            #expect(replay.head.status == .created)
            #expect(second.bloomPositives == 1)
            #expect(backend.callCount == 1)
            await second.shutdown()
            await reopened.close()
        }
    }

    @Test func concurrentDuplicatesAndMismatchOverSQLite() async throws {
        try await withDatabase { path in
            let gate = Gate()
            let backend = TestBackend { call, _ in
                await gate.wait()
                return TestBackend.created("order-\(call)")
            }
            let store = try SQLiteKeyStore(path: path)
            let engine = engine(store, backend: backend, clock: TestClock())
            var outcomes: [IdempotencyOutcome] = []
            await withTaskGroup(of: IdempotencyOutcome.self) { group in
                for _ in 0..<30 { group.addTask { await engine.process(makeRequest()).1 } }
                while let outcome = await group.next() {
                    outcomes.append(outcome)
                    if outcomes.count == 29 { gate.open() }
                }
            }
            #expect(backend.callCount == 1)
            #expect(outcomes.filter { $0 == .conflict }.count == 29)
            #expect(await engine.process(makeRequest(body: "other")).1 == .mismatch)
            #expect(await engine.process(makeRequest()).1 == .replayed)
            await store.close()
        }
    }

    @Test func takeoverAndBodyOmittedOverSQLite() async throws {
        try await withDatabase { path in
            let gate = Gate()
            let backend = TestBackend { call, _ in
                if call == 1 { await gate.wait() }
                return GatewayResponse(
                    status: .created, headerFields: [.contentType: "text/plain"],
                    body: [UInt8](repeating: 0x41, count: 2048))
            }
            let clock = TestClock()
            let store = try SQLiteKeyStore(path: path)
            let engine = engine(
                store, backend: backend, clock: clock,
                configuration: IdempotencyConfiguration(
                    upstreamTimeout: .seconds(3), maxStoredResponseBytes: 1024, hotCacheBytes: 0))
            #expect(await engine.process(makeRequest()).0.head.status == .gatewayTimeout)
            clock.advance(seconds: 61)
            let (second, outcome) = await engine.process(makeRequest())
            #expect(outcome == .forwarded)
            #expect(second.body.count == 2048)
            gate.open()
            #expect(await eventually { engine.inFlightCount == 0 })
            let (replay, replayed) = await engine.process(makeRequest())
            #expect(replayed == .replayed)
            #expect(replay.body.isEmpty)
            #expect(replay.head.headerFields[IdempotencyHeaders.idempotentReplayBody] == "omitted")
            #expect(replay.head.headerFields[.contentType] == nil)
            #expect(backend.callCount == 2)
            await store.close()
        }
    }
}
