import GatewayHTTP
import GatewayStore
import Idempotency
import Logging
import Synchronization
import Testing
import TestSupport

/// Every log line the engine writes about a key carries its digest, never the key or its scope.
@Suite("Engine logs")
struct LogPrivacyTests {
    @Test func keysAndScopesAppearOnlyAsDigests() async {
        let logs = CapturedLogs()
        let store = TestKeyStore()
        let backend = TestBackend()
        let engine = IdempotencyEngine(
            configuration: IdempotencyConfiguration(), store: store, next: backend,
            logger: Logger(label: "engine") { _ in logs.handler() })
        let key = "SECRET-key-7f3a"
        let request = makeRequest(key: key, headers: [(.authorization, "Bearer SECRET-credential")])
        // Storing fails: the engine logs about the key (error now, notice once stored).
        store.fail(with: .database(code: 13, message: "full"), operations: ["complete"])
        #expect(await engine.process(request).1 == .forwarded)
        store.fail(with: nil)
        #expect(await eventually(timeout: .seconds(10)) { await engine.process(request).1 == .replayed })
        let lines = logs.lines.withLock { $0 }
        #expect(lines.count >= 2)
        #expect(lines.contains { $0.contains("key=\(KeyDigest.short(key))") })
        #expect(!lines.contains { $0.contains("SECRET") }, "\(lines)")
        await engine.shutdown()
    }

    @Test func theDigestIsOfTheKeysValue() {
        #expect(KeyDigest.short("abc") == "k:e71fa2190541574b")
        #expect(KeyDigest.short("abc") != KeyDigest.short("abd"))
    }
}
