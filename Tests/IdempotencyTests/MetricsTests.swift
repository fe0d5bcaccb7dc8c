import GatewayHTTP
import GatewayStore
import Idempotency
import Logging
import Metrics
import Synchronization
import Testing

/// A metrics factory that keeps every value by `label{dimensions}` (no global bootstrap needed).
final class RecordingMetrics: MetricsFactory, Sendable {
    final class Handler: CounterHandler, FloatingPointCounterHandler, RecorderHandler, MeterHandler, TimerHandler,
        Sendable
    {
        let value = Mutex<Double>(0)
        let count = Mutex<Int>(0)
        func increment(by amount: Int64) { value.withLock { $0 += Double(amount) } }
        func increment(by amount: Double) { value.withLock { $0 += amount } }
        func decrement(by amount: Double) { value.withLock { $0 -= amount } }
        func reset() { value.withLock { $0 = 0 } }
        func record(_ value: Int64) { self.value.withLock { $0 = Double(value) } }
        func record(_ value: Double) { self.value.withLock { $0 = value } }
        func set(_ value: Int64) { self.value.withLock { $0 = Double(value) } }
        func set(_ value: Double) { self.value.withLock { $0 = value } }
        func recordNanoseconds(_ duration: Int64) { count.withLock { $0 += 1 } }
    }

    private let handlers = Mutex<[String: Handler]>([:])

    static func name(_ label: String, _ dimensions: [(String, String)]) -> String {
        dimensions.isEmpty ? label : label + "{" + dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    private func make(_ label: String, _ dimensions: [(String, String)]) -> Handler {
        let name = Self.name(label, dimensions)
        return handlers.withLock { handlers in
            if let existing = handlers[name] { return existing }
            let created = Handler()
            handlers[name] = created
            return created
        }
    }

    func value(_ label: String, _ dimensions: [(String, String)] = []) -> Double {
        handlers.withLock { $0[Self.name(label, dimensions)]?.value.withLock { $0 } ?? -1 }
    }

    func timings(_ label: String, _ dimensions: [(String, String)] = []) -> Int {
        handlers.withLock { $0[Self.name(label, dimensions)]?.count.withLock { $0 } ?? -1 }
    }

    var names: [String] { handlers.withLock { Array($0.keys) } }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { make(label, dimensions) }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        make(label, dimensions)
    }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { make(label, dimensions) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        make(label, dimensions)
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { make(label, dimensions) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

@Suite("Metrics")
struct MetricsTests {
    @Test func outcomesBloomStoreTimingsAndInFlightAreReported() async throws {
        let metrics = RecordingMetrics()
        let store = TestKeyStore()
        let backend = TestBackend()
        var logger = Logger(label: "metrics-test")
        logger.logLevel = .critical
        let engine = IdempotencyEngine(
            configuration: IdempotencyConfiguration(), store: store, next: backend, wallClock: TestClock().closure,
            logger: logger, metricsFactory: metrics)

        _ = await engine.process(makeRequest())
        _ = await engine.process(makeRequest())
        _ = await engine.process(makeRequest(key: ""))
        store.fail(with: .closed)
        _ = await engine.process(makeRequest(key: "new"))

        let requests = IdempotencyMetricNames.requests
        #expect(requests == "idempotency_requests_total")
        #expect(metrics.value(requests, [("outcome", "forwarded")]) == 1)
        #expect(metrics.value(requests, [("outcome", "replayed")]) == 1)
        #expect(metrics.value(requests, [("outcome", "invalid_key")]) == 1)
        #expect(metrics.value(requests, [("outcome", "store_error")]) == 1)
        #expect(metrics.value(requests, [("outcome", "conflict")]) == 0)
        #expect(metrics.value(IdempotencyMetricNames.bloom, [("result", "negative")]) == 1)
        #expect(metrics.timings(IdempotencyMetricNames.storeDuration, [("operation", "claim")]) == 2)
        #expect(metrics.timings(IdempotencyMetricNames.storeDuration, [("operation", "complete")]) == 1)
        #expect(metrics.value(IdempotencyMetricNames.storeErrors, [("operation", "claim")]) == 1)
        #expect(metrics.value(IdempotencyMetricNames.inFlight) == 0)
        #expect(metrics.value(IdempotencyMetricNames.hotCacheHits) == 1)
        // Prometheus-compatible names.
        for name in metrics.names {
            let label = name.split(separator: "{").first.map(String.init) ?? name
            #expect(label.allSatisfy { $0.isLowercase || $0 == "_" }, "\(label)")
        }
    }
}
