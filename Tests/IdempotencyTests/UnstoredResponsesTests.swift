import GatewayStore
import Logging
import Synchronization
import Testing
import TestSupport

@testable import Idempotency

/// The bounded background retry of responses whose storing failed.
@Suite("Unstored responses")
struct UnstoredResponsesTests {
    final class Log: Sendable {
        let events = Mutex<[String]>([])
        func add(_ event: String) { events.withLock { $0.append(event) } }
        var all: [String] { events.withLock { $0 } }
    }

    @Test func retriedUntilStoredOldestFirstAndTheQueueIsBounded() async {
        let queue = UnstoredResponses(maxCount: 2, maxBytes: 1000)
        let log = Log()
        let storeWorks = Atomic<Bool>(false)
        let deadline = ContinuousClock.now + .seconds(30)
        for name in ["a", "b", "c"] {
            queue.add(
                bytes: 10, until: deadline,
                attempt: {
                    log.add("attempt \(name)")
                    return storeWorks.load(ordering: .relaxed) ? .done : .retryLater
                },
                dropped: { reason in log.add("dropped \(name): \(reason)") })
        }
        #expect(queue.count == 2)
        #expect(log.all.contains("dropped c: too many responses are waiting to be stored"))
        try? await Task.sleep(for: .milliseconds(300))
        // While the store fails, each pass stops at its first failure: "b" is never tried before "a" succeeds.
        #expect(!log.all.contains("attempt b"))
        storeWorks.store(true, ordering: .relaxed)
        #expect(await eventually(timeout: .seconds(10)) { queue.count == 0 })
        let attempts = log.all.filter { $0.hasPrefix("attempt") }
        #expect(attempts.last == "attempt b")
        let tooBig = queue.add(bytes: 2000, until: deadline, attempt: { .done }, dropped: { _ in })
        #expect(!tooBig, "over maxBytes")
        await queue.stop()
    }

    /// The engine's queue holds ``IdempotencyConfiguration/unstoredQueueEntries`` responses
    /// (`idempotency.unstored-queue-entries`): with room for two, the third response whose storing failed is given up
    /// on at once, and its key stays in flight after the store recovers while the other two are replayed.
    @Test func theEngineQueuesAtMostTheConfiguredNumberOfResponses() async {
        let logs = CapturedLogs()
        let store = TestKeyStore()
        let backend = TestBackend()
        let metrics = RecordingMetrics()
        let engine = IdempotencyEngine(
            configuration: IdempotencyConfiguration(unstoredQueueEntries: 2), store: store, next: backend,
            logger: Logger(label: "engine") { _ in logs.handler() }, metricsFactory: metrics)
        store.fail(with: .database(code: 13, message: "full"), operations: ["complete"])
        for key in ["k1", "k2", "k3"] {
            let (response, outcome) = await engine.process(makeRequest(key: key))
            #expect(outcome == .forwarded)
            #expect(response.header(IdempotencyHeaders.idempotencyDegraded) == "true")
        }
        #expect(metrics.value(IdempotencyMetricNames.unstoredResponses) == 3, "each response the store did not take")
        let full = logs.lines.withLock { $0 }.filter { $0.contains("reason=too many responses are waiting to be stored") }
        #expect(full.count == 1, "\(full)")
        #expect(full.first?.contains("key=\(KeyDigest.short("k3"))") == true)
        store.fail(with: nil)
        #expect(await eventually(timeout: .seconds(10)) { await engine.process(makeRequest(key: "k2")).1 == .replayed })
        #expect(await engine.process(makeRequest(key: "k1")).1 == .replayed)
        #expect(await engine.process(makeRequest(key: "k3")).1 == .conflict, "never queued, so never stored")
        #expect(backend.callCount == 3)
        await engine.shutdown()
    }

    @Test func droppedWhenTheLeaseEndsOrTheStoreCannotTakeIt() async {
        let queue = UnstoredResponses()
        let log = Log()
        queue.add(
            bytes: 1, until: ContinuousClock.now + .milliseconds(100), attempt: { .retryLater },
            dropped: { log.add("expired: \($0)") })
        queue.add(
            bytes: 1, until: ContinuousClock.now + .seconds(30), attempt: { .giveUp },
            dropped: { log.add("given up: \($0)") })
        #expect(await eventually(timeout: .seconds(10)) { queue.count == 0 })
        #expect(log.all.contains { $0.hasPrefix("expired: the key's lease ended") })
        #expect(log.all.contains("given up: the store cannot take it"))
        await queue.stop()
        let accepted = queue.add(bytes: 1, until: .now + .seconds(1), attempt: { .done }, dropped: { log.add("late: \($0)") })
        #expect(!accepted)
        #expect(log.all.contains("late: shutting down"))
    }
}
