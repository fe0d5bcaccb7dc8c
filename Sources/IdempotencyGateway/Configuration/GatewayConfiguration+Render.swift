// Printing the effective configuration as YAML (for `check-config`); the admin token is redacted.

extension GatewayConfiguration {
    /// The placeholder printed instead of `admin.token`.
    public static let redacted = "<redacted>"

    /// The effective configuration as a YAML document in the layout of `config/gateway.yaml`.
    ///
    /// Every key is printed. Reading the output back gives the same configuration, except that a set
    /// `admin.token` is printed as `"<redacted>"`.
    public func render() -> String {
        func duration(_ value: Duration) -> String { DurationValue.format(value) }
        func size(_ value: Int) -> String { ByteSizeValue.format(value) }
        func list(_ items: [String]) -> String { "[" + items.map(Self.yamlString).joined(separator: ", ") + "]" }
        var lines: [String] = []
        lines.append("listen: \(Self.yamlString(listen.description))")
        lines.append("admin:")
        lines.append("  listen: \(Self.yamlString(admin.listen?.description ?? "off"))")
        lines.append("  token: \(admin.token == nil ? "null" : Self.yamlString(Self.redacted))")
        lines.append("  max-connections: \(admin.maxConnections)")
        lines.append("upstream:")
        lines.append("  url: \(upstream.url.map { Self.yamlString($0.description) } ?? "null  # the built-in echo backend")")
        lines.append("  connect-timeout: \(duration(upstream.connectTimeout))")
        lines.append("  timeout: \(duration(upstream.timeout))")
        lines.append("  max-idle-connections: \(upstream.maxIdleConnections)")
        lines.append("  max-response-body-bytes: \(size(upstream.maxResponseBodyBytes))")
        lines.append("  idle-connection-timeout: \(duration(upstream.idleConnectionTimeout))")
        lines.append("  max-header-bytes: \(size(upstream.maxHeaderBytes))")
        lines.append("  max-header-count: \(upstream.maxHeaderCount)")
        lines.append("server:")
        lines.append("  max-request-target: \(size(server.maxRequestTarget))")
        lines.append("  max-header-bytes: \(size(server.maxHeaderBytes))")
        lines.append("  max-header-count: \(server.maxHeaderCount)")
        lines.append("  max-body-bytes: \(size(server.maxBodyBytes))")
        lines.append("  stream-bodies-over: \(size(server.streamBodiesOver))")
        lines.append("  max-buffered-body-bytes: \(size(server.maxBufferedBodyBytes))")
        lines.append("  header-timeout: \(duration(server.headerTimeout))")
        lines.append("  body-timeout: \(duration(server.bodyTimeout))")
        lines.append("  idle-timeout: \(duration(server.idleTimeout))")
        lines.append("  write-timeout: \(duration(server.writeTimeout))")
        lines.append("  max-connections: \(server.maxConnections)")
        lines.append("  backlog: \(server.backlog)")
        lines.append("  shutdown-grace: \(duration(server.shutdownGrace))")
        lines.append("  busy-poll-microseconds: \(server.busyPollMicroseconds)")
        lines.append("store:")
        lines.append("  path: \(Self.yamlString(store.path))")
        lines.append("  quick-check: \(store.quickCheck)")
        lines.append("  synchronous: \(store.synchronous.rawValue)")
        lines.append("  busy-timeout: \(duration(store.busyTimeout))")
        lines.append("  compression-threshold: \(size(store.compressionThreshold))")
        lines.append("  checkpoint-interval: \(duration(store.checkpointInterval))")
        let idem = idempotency
        lines.append("idempotency:")
        lines.append("  key-ttl: \(duration(idem.keyTTL))")
        lines.append("  lease: \(duration(idem.lease))")
        lines.append("  require-key: \(idem.requireKey)")
        lines.append("  methods: \(list(idem.methods))")
        lines.append("  max-key-length: \(idem.maxKeyLength)")
        lines.append("  scope-headers: \(list(idem.scopeHeaders))")
        lines.append("  fingerprint-headers: \(list(idem.fingerprintHeaders))")
        lines.append("  store-5xx: \(idem.store5xx)")
        lines.append("  max-stored-response-bytes: \(size(idem.maxStoredResponseBytes))")
        lines.append("  max-buffered-response-bytes: \(size(idem.maxBufferedResponseBytes))")
        lines.append("  fail-open: \(idem.failOpen)")
        lines.append("  max-in-flight: \(idem.maxInFlight)")
        lines.append("  unstored-queue-bytes: \(size(idem.unstoredQueueBytes))")
        lines.append("  unstored-queue-entries: \(idem.unstoredQueueEntries)")
        lines.append("  dropped-response-headers: \(list(idem.droppedResponseHeaders))")
        lines.append("  sweep-interval: \(duration(idem.sweepInterval))")
        lines.append("  sweep-batch: \(idem.sweepBatch)")
        lines.append("  bloom:")
        lines.append("    expected-keys: \(idem.bloom.expectedKeys)")
        lines.append("    false-positive-rate: \(idem.bloom.falsePositiveRate)")
        lines.append("  hot-cache-bytes: \(size(idem.hotCacheBytes))")
        lines.append("  hot-cache-max-age: \(duration(idem.hotCacheMaxAge))")
        lines.append("  documentation-url: \(Self.yamlString(idem.documentationURL))")
        if idem.routes.isEmpty {
            lines.append("  routes: []")
        } else {
            lines.append("  routes:")
            for rule in idem.routes {
                lines.append("    - path-prefix: \(Self.yamlString(rule.pathPrefix))")
                if let methods = rule.methods { lines.append("      methods: \(list(methods))") }
                if let requireKey = rule.requireKey { lines.append("      require-key: \(requireKey)") }
                if let keyTTL = rule.keyTTL { lines.append("      key-ttl: \(duration(keyTTL))") }
                if let lease = rule.lease { lines.append("      lease: \(duration(lease))") }
            }
        }
        lines.append("log:")
        lines.append("  level: \(log.level.rawValue)")
        lines.append("  format: \(log.format.rawValue)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text` as a YAML scalar: plain when unambiguous, otherwise double-quoted with escapes.
    static func yamlString(_ text: String) -> String {
        let reserved: Set<String> = ["", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"]
        let plainSafe = text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII
                && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || "-_./".unicodeScalars.contains(scalar))
        }
        let startsSafe = text.first.map { $0.isLetter || $0 == "/" } ?? false
        let looksNumeric = Double(text) != nil
        if plainSafe, startsSafe, !looksNumeric, !reserved.contains(text.lowercased()) { return text }
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 0x20 {
                    escaped += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }
}

extension String {
    /// The string left-padded with zeros to `width` characters.
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
