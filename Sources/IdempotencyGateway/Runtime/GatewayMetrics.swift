import GatewayHTTP
import GatewayStore
import Idempotency
import Metrics
import Prometheus
import Synchronization

/// The gateway's own metrics (the engine's are in ``IdempotencyMetricNames``), exported in the Prometheus text
/// format on the admin listener's `/metrics`.
enum GatewayMetrics {
    /// The registry `/metrics` renders. First use bootstraps swift-metrics with it, once per process; the gateway
    /// does so before it creates the engine, so every metric lands here. (A host process that bootstrapped
    /// swift-metrics itself should keep the admin listener off when embedding the gateway.)
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Whole-request latency per outcome, `gateway_request_duration_seconds`. Created on first use (after the
    /// gateway bootstrapped the registry above when it serves `/metrics`), then read without a lock.
    private static let durations: [IdempotencyOutcome: Metrics.Timer] = {
        var timers: [IdempotencyOutcome: Metrics.Timer] = [:]
        for outcome in IdempotencyOutcome.allCases {
            timers[outcome] = Metrics.Timer(
                label: "gateway_request_duration_seconds", dimensions: [("outcome", outcome.rawValue)],
                preferredDisplayUnit: .seconds)
        }
        return timers
    }()

    static func requestDuration(outcome: IdempotencyOutcome) -> Metrics.Timer {
        outcome == .passthrough ? passthroughDuration : durations[outcome]!
    }

    /// The passthrough series, the most frequent, without a dictionary lookup.
    private static let passthroughDuration = durations[.passthrough]!

    /// Creates the request-duration series now, so that `/metrics` shows them (at zero) from the first scrape.
    static func registerRequestDurations() {
        _ = durations
    }

    /// `gateway_requests_in_flight`: requests between arrival and response, counted per request with one atomic
    /// add and published to the gauge when `/metrics` is scraped (not on every request).
    static let requestsInFlight = InFlight()

    final class InFlight: Sendable {
        private let count = Atomic<Int>(0)
        private let gauge = Mutex<Metrics.Gauge?>(nil)

        func increment() { count.wrappingAdd(1, ordering: .relaxed) }
        func decrement() { count.wrappingSubtract(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }

        /// Records the current count in the gauge (created on first use, after the registry is bootstrapped).
        func publish() {
            let value = self.value
            gauge.withLock { gauge in
                if gauge == nil { gauge = Metrics.Gauge(label: "gateway_requests_in_flight") }
                gauge?.record(value)
            }
        }
    }

    /// `gateway_buffered_body_bytes` (request-body bytes held against `server.max-buffered-body-bytes`) and
    /// `gateway_buffered_body_refusals_total` (requests answered `503` for want of room), read from the server's
    /// budget at each scrape.
    static let bufferedBodies = BufferedBodies()

    final class BufferedBodies: Sendable {
        private struct State {
            var gauge: Metrics.Gauge?
            var counter: Metrics.Counter?
            var publishedRefusals = 0
        }
        private let state = Mutex(State())

        func publish(_ budget: BufferedBodyBudget) {
            let (inUse, refusals) = (budget.inUse, budget.refusals)
            state.withLock { state in
                if state.gauge == nil {
                    state.gauge = Metrics.Gauge(label: "gateway_buffered_body_bytes")
                    state.counter = Metrics.Counter(label: "gateway_buffered_body_refusals_total")
                }
                state.gauge?.record(inUse)
                if refusals > state.publishedRefusals {
                    state.counter?.increment(by: refusals - state.publishedRefusals)
                    state.publishedRefusals = refusals
                }
            }
        }
    }

    /// `gateway_keys_stored` by state, refreshed from the store at each scrape: `in_flight` (within the lease),
    /// `lease_ended` (in flight with the lease over: the next request takes the key over), `completed`, `expired`.
    static func recordKeys(_ statistics: KeyStoreStatistics) {
        Gauge(label: "gateway_keys_stored", dimensions: [("state", "in_flight")])
            .record(statistics.inFlight - statistics.leaseEnded)
        Gauge(label: "gateway_keys_stored", dimensions: [("state", "lease_ended")]).record(statistics.leaseEnded)
        Gauge(label: "gateway_keys_stored", dimensions: [("state", "completed")]).record(statistics.completed)
        Gauge(label: "gateway_keys_stored", dimensions: [("state", "expired")]).record(statistics.expired)
    }

    /// Renders the registry.
    static func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
