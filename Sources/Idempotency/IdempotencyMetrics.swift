import Metrics

/// The names of every metric the idempotency layer reports (Prometheus style: lower case, underscores).
public enum IdempotencyMetricNames: Sendable {
    /// Counter; dimension `outcome` = an ``IdempotencyOutcome`` raw value.
    public static let requests = "idempotency_requests_total"
    /// Timer; dimension `operation` = `claim`, `complete`, `release`, `record`, `delete`, `delete_expired`,
    /// `for_each_key`.
    public static let storeDuration = "idempotency_store_duration_seconds"
    /// Counter; dimension `operation` as above. Store calls that threw.
    public static let storeErrors = "idempotency_store_errors_total"
    /// Counter; dimension `result` = `negative`, `positive`, `false_positive` (``BloomResult``).
    public static let bloom = "idempotency_bloom_total"
    /// Gauge: requests currently forwarded under a claimed key (their upstream exchange has not ended).
    public static let inFlight = "idempotency_inflight"
    /// Counter: completed responses stored without their body because it exceeded the storable size.
    public static let bodyOmitted = "idempotency_body_omitted_total"
    /// Counter: keyed responses whose body was not held, because holding it would have gone past
    /// ``IdempotencyConfiguration/maxBufferedResponseBytes``: streamed to the client and, when stored, stored without
    /// it (then also counted in ``bodyOmitted``).
    public static let responseBudgetRefusals = "idempotency_response_budget_refusals_total"
    /// Counter: streamed responses (stored without their body) whose body broke off after the record was stored:
    /// the client saw an incomplete message, a retry gets the status and headers.
    public static let bodyBroken = "idempotency_body_broken_total"
    /// Counter: `complete` refused because another request took the key over (a stale owner).
    public static let staleOwner = "idempotency_stale_owner_total"
    /// Counter: responses the client got although storing them failed (the key stays in flight; storing is retried
    /// until its lease ends).
    public static let unstoredResponses = "idempotency_unstored_responses_total"
    /// Counter: hot-cache hits (replays or mismatches answered without the store).
    public static let hotCacheHits = "idempotency_hot_cache_hits_total"
    /// Counter: expired records deleted by the sweep.
    public static let swept = "idempotency_swept_total"
}

/// The store operations timed under ``IdempotencyMetricNames/storeDuration``.
enum StoreOperation: String, CaseIterable {
    case claim, complete, release, record, delete
    case deleteExpired = "delete_expired"
    case forEachKey = "for_each_key"
}

/// The metric handles, created once (looking a metric up per request would cost a lock in the factory).
///
/// They bind to the given factory, by default whatever `MetricsSystem` is bootstrapped when the engine is created
/// (so bootstrap metrics first).
struct IdempotencyMetrics: Sendable {
    let requests: [IdempotencyOutcome: Counter]
    /// `requests[.passthrough]`, the byte path's counter, without a dictionary lookup.
    let passthroughRequests: Counter
    let storeDuration: [StoreOperation: Timer]
    let storeErrors: [StoreOperation: Counter]
    let bloom: [BloomResult: Counter]
    let inFlight: Gauge
    let bodyOmitted: Counter
    let responseBudgetRefusals: Counter
    let bodyBroken: Counter
    let staleOwner: Counter
    let unstoredResponses: Counter
    let hotCacheHits: Counter
    let swept: Counter

    init(factory: any MetricsFactory) {
        var requests: [IdempotencyOutcome: Counter] = [:]
        for outcome in IdempotencyOutcome.allCases {
            requests[outcome] = Counter(
                label: IdempotencyMetricNames.requests, dimensions: [("outcome", outcome.rawValue)], factory: factory)
        }
        var durations: [StoreOperation: Timer] = [:]
        var errors: [StoreOperation: Counter] = [:]
        for operation in StoreOperation.allCases {
            durations[operation] = Timer(
                label: IdempotencyMetricNames.storeDuration, dimensions: [("operation", operation.rawValue)],
                preferredDisplayUnit: .seconds, factory: factory)
            errors[operation] = Counter(
                label: IdempotencyMetricNames.storeErrors, dimensions: [("operation", operation.rawValue)],
                factory: factory)
        }
        var bloom: [BloomResult: Counter] = [:]
        for result in BloomResult.allCases {
            bloom[result] = Counter(
                label: IdempotencyMetricNames.bloom, dimensions: [("result", result.rawValue)], factory: factory)
        }
        self.requests = requests
        self.passthroughRequests = requests[.passthrough]!
        self.storeDuration = durations
        self.storeErrors = errors
        self.bloom = bloom
        inFlight = Gauge(label: IdempotencyMetricNames.inFlight, factory: factory)
        bodyOmitted = Counter(label: IdempotencyMetricNames.bodyOmitted, factory: factory)
        responseBudgetRefusals = Counter(label: IdempotencyMetricNames.responseBudgetRefusals, factory: factory)
        bodyBroken = Counter(label: IdempotencyMetricNames.bodyBroken, factory: factory)
        staleOwner = Counter(label: IdempotencyMetricNames.staleOwner, factory: factory)
        unstoredResponses = Counter(label: IdempotencyMetricNames.unstoredResponses, factory: factory)
        hotCacheHits = Counter(label: IdempotencyMetricNames.hotCacheHits, factory: factory)
        swept = Counter(label: IdempotencyMetricNames.swept, factory: factory)
    }
}
