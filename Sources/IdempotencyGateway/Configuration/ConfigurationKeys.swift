// The dotted configuration keys, their environment variable names, and typo suggestions.

/// The names of every configuration key and how they map onto environment variables.
public enum ConfigurationKeys {
    /// Every scalar or list key accepted from flags, environment and file, in ``GatewayConfiguration/render()``
    /// order. `idempotency.routes` is separate: it is a list of objects and only accepted in the file.
    public static let all: [String] = [
        "listen",
        "admin.listen", "admin.token", "admin.max-connections",
        "upstream.url", "upstream.connect-timeout", "upstream.timeout", "upstream.max-idle-connections",
        "upstream.max-response-body-bytes", "upstream.idle-connection-timeout",
        "upstream.max-header-bytes", "upstream.max-header-count",
        "server.max-request-target", "server.max-header-bytes", "server.max-header-count", "server.max-body-bytes",
        "server.stream-bodies-over", "server.max-buffered-body-bytes", "server.header-timeout", "server.body-timeout", "server.idle-timeout", "server.write-timeout", "server.max-connections", "server.backlog",
        "server.shutdown-grace", "server.busy-poll-microseconds",
        "store.path", "store.quick-check", "store.synchronous", "store.busy-timeout", "store.compression-threshold",
        "store.checkpoint-interval",
        "idempotency.key-ttl", "idempotency.lease", "idempotency.require-key", "idempotency.methods",
        "idempotency.max-key-length", "idempotency.scope-headers", "idempotency.fingerprint-headers",
        "idempotency.store-5xx", "idempotency.max-stored-response-bytes", "idempotency.max-buffered-response-bytes",
        "idempotency.fail-open", "idempotency.max-in-flight", "idempotency.unstored-queue-bytes",
        "idempotency.unstored-queue-entries",
        "idempotency.dropped-response-headers", "idempotency.sweep-interval", "idempotency.sweep-batch",
        "idempotency.bloom.expected-keys", "idempotency.bloom.false-positive-rate", "idempotency.hot-cache-bytes",
        "idempotency.hot-cache-max-age", "idempotency.documentation-url",
        "log.level", "log.format",
    ]

    /// The file-only key holding the per-route rules.
    public static let routes = "idempotency.routes"

    /// The keys of one `idempotency.routes` entry.
    public static let routeFields = ["path-prefix", "methods", "require-key", "key-ttl", "lease"]

    /// Prefix of every environment variable the gateway reads.
    public static let environmentPrefix = "GATEWAY_"

    /// The environment variable naming the configuration file (the `--config` flag wins over it).
    public static let configFileVariable = "GATEWAY_CONFIG"

    /// `GATEWAY_` + `key` upper-cased with `.` and `-` replaced by `_` (`idempotency.lease` →
    /// `GATEWAY_IDEMPOTENCY_LEASE`); the same mapping swift-configuration's environment provider applies.
    public static func environmentVariable(for key: String) -> String {
        environmentPrefix
            + String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// The known key closest to `unknown` when it is plausibly a typo of it, for "did you mean" hints.
    static func suggestion(for unknown: String, among candidates: [String] = all + [routes]) -> String? {
        let scored = candidates.map { ($0, editDistance($0, unknown)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, unknown.count / 4) ? best.0 : nil
    }

    /// Levenshtein distance over characters.
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
