import HTTPTypes

extension GatewayConfiguration {
    /// Checks what a configuration built in code (not through ``load(overrides:environment:configFile:)``, which
    /// checks each value as it reads it) must satisfy for the gateway's guarantees to hold: positive leases, TTLs and
    /// timeouts (a zero lease would let a duplicate take over a key still in flight), route prefixes that are paths,
    /// method names that are tokens, a store path. ``Gateway/start(configuration:backend:logger:)`` calls it.
    /// - Throws: ``ConfigurationError`` listing every problem.
    public func validate() throws(ConfigurationError) {
        var problems: [ConfigurationProblem] = []
        func positive(_ value: Duration, _ key: String) {
            if value <= .zero { problems.append(.init(key: key, value: "\(value)", reason: "must be positive")) }
        }
        func atLeast(_ value: Int, _ minimum: Int, _ key: String) {
            if value < minimum { problems.append(.init(key: key, value: "\(value)", reason: "must be at least \(minimum)")) }
        }
        func methodNames(_ names: [String], _ key: String) {
            for name in names where HTTPRequest.Method(name.uppercased()) == nil {
                problems.append(.init(key: key, value: name, reason: "not an HTTP method name (a token)"))
            }
        }
        positive(idempotency.keyTTL, "idempotency.key-ttl")
        positive(idempotency.lease, "idempotency.lease")
        positive(idempotency.hotCacheMaxAge, "idempotency.hot-cache-max-age")
        positive(idempotency.sweepInterval, "idempotency.sweep-interval")
        positive(upstream.timeout, "upstream.timeout")
        positive(upstream.connectTimeout, "upstream.connect-timeout")
        positive(upstream.idleConnectionTimeout, "upstream.idle-connection-timeout")
        positive(server.headerTimeout, "server.header-timeout")
        positive(server.bodyTimeout, "server.body-timeout")
        positive(server.idleTimeout, "server.idle-timeout")
        positive(server.writeTimeout, "server.write-timeout")
        if server.shutdownGrace < .zero {
            problems.append(.init(key: "server.shutdown-grace", value: "\(server.shutdownGrace)", reason: "must not be negative"))
        }
        atLeast(idempotency.maxKeyLength, 1, "idempotency.max-key-length")
        atLeast(idempotency.sweepBatch, 1, "idempotency.sweep-batch")
        atLeast(idempotency.maxInFlight, 1, "idempotency.max-in-flight")
        atLeast(idempotency.unstoredQueueEntries, 1, "idempotency.unstored-queue-entries")
        atLeast(server.maxConnections, 1, "server.max-connections")
        atLeast(admin.maxConnections, 1, "admin.max-connections")
        atLeast(server.backlog, 1, "server.backlog")
        atLeast(server.busyPollMicroseconds, 0, "server.busy-poll-microseconds")
        atLeast(upstream.maxHeaderBytes, 1, "upstream.max-header-bytes")
        atLeast(upstream.maxHeaderCount, 1, "upstream.max-header-count")
        atLeast(server.maxRequestTarget, 1, "server.max-request-target")
        atLeast(server.maxHeaderBytes, 1, "server.max-header-bytes")
        atLeast(server.maxHeaderCount, 1, "server.max-header-count")
        atLeast(server.maxBodyBytes, 0, "server.max-body-bytes")
        if server.maxBufferedBodyBytes < server.maxBodyBytes {
            problems.append(
                .init(
                    key: "server.max-buffered-body-bytes", value: ByteSizeValue.format(server.maxBufferedBodyBytes),
                    reason: "must be at least server.max-body-bytes (\(ByteSizeValue.format(server.maxBodyBytes))), "
                        + "or a body within the limit could never be buffered"))
        }
        if idempotency.maxBufferedResponseBytes < idempotency.maxStoredResponseBytes {
            problems.append(
                .init(
                    key: "idempotency.max-buffered-response-bytes",
                    value: ByteSizeValue.format(idempotency.maxBufferedResponseBytes),
                    reason: "must be at least idempotency.max-stored-response-bytes "
                        + "(\(ByteSizeValue.format(idempotency.maxStoredResponseBytes))), or a storable body could never be held"))
        }
        methodNames(idempotency.methods, "idempotency.methods")
        if store.path.isEmpty {
            problems.append(.init(key: "store.path", reason: "empty (use :memory: for an in-memory store)"))
        }
        for (index, rule) in idempotency.routes.enumerated() {
            let key = "idempotency.routes[\(index)]"
            if !rule.pathPrefix.hasPrefix("/") {
                problems.append(.init(key: key + ".path-prefix", value: rule.pathPrefix, reason: "must start with /"))
            }
            if let ttl = rule.keyTTL { positive(ttl, key + ".key-ttl") }
            if let lease = rule.lease { positive(lease, key + ".lease") }
            if let methods = rule.methods { methodNames(methods, key + ".methods") }
        }
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
    }
}
