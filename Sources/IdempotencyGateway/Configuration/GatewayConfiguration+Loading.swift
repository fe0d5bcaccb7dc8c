// Building a GatewayConfiguration from flags, environment, file and defaults with swift-configuration.
import Configuration
import Foundation
import Logging

/// The outcome of loading: the configuration and the non-fatal findings.
public struct LoadedConfiguration: Sendable, Equatable {
    /// The effective configuration.
    public var configuration: GatewayConfiguration
    /// Non-fatal findings such as unknown keys in the file or unknown `GATEWAY_*` variables.
    public var warnings: [String]
    /// The configuration file that was read, if any.
    public var configFile: String?
    /// Where each key that is not at its default was set (`environment variable GATEWAY_…`, `flag --lease`,
    /// `config file …`), for problems found after loading.
    public var sources: [String: String] = [:]

    /// ``GatewayConfiguration/validate()`` (the rules across keys, which `serve` applies at start), with each
    /// problem's source as loading reports it for a single value.
    public func validate() throws(ConfigurationError) {
        do {
            try configuration.validate()
        } catch {
            throw ConfigurationError(
                problems: error.problems.map { problem in
                    var problem = problem
                    if problem.source == nil { problem.source = sources[problem.key] }
                    return problem
                },
                warnings: error.warnings)
        }
    }
}

extension GatewayConfiguration {
    /// The configuration file read when present and none is named: `config/gateway.yaml`, relative to the
    /// working directory.
    public static let defaultConfigFile = "config/gateway.yaml"

    /// Which file to read: `explicit` (`--config`), else `$GATEWAY_CONFIG`, else ``defaultConfigFile``
    /// when it exists, else none.
    public static func configFilePath(explicit: String?, environment: [String: String]) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let named = environment[ConfigurationKeys.configFileVariable], !named.isEmpty { return named }
        return FileManager.default.fileExists(atPath: defaultConfigFile) ? defaultConfigFile : nil
    }

    /// Loads the configuration; precedence is `overrides` > `environment` > `configFile` > defaults.
    ///
    /// - Parameters:
    ///   - overrides: Values from command-line flags.
    ///   - environment: The process environment; only `GATEWAY_*` variables are read.
    ///   - configFile: A YAML file to read, or `nil` for none (see ``configFilePath(explicit:environment:)``).
    /// - Throws: ``ConfigurationError`` listing every invalid value, naming its key, value and source.
    public static func load(
        overrides: CommandLineOverrides = CommandLineOverrides(),
        environment: [String: String],
        configFile: String?
    ) throws -> GatewayConfiguration {
        try loadWithWarnings(overrides: overrides, environment: environment, configFile: configFile).configuration
    }

    /// Like ``load(overrides:environment:configFile:)`` but also returns warnings (unknown keys) to show.
    public static func loadWithWarnings(
        overrides: CommandLineOverrides = CommandLineOverrides(),
        environment: [String: String],
        configFile: String?
    ) throws -> LoadedConfiguration {
        let file = try configFile.map { try ConfigurationFile(path: $0) }
        var warnings: [String] = []
        for key in file?.unknownKeys ?? [] {
            let hint = ConfigurationKeys.suggestion(for: key).map { " (did you mean \($0)?)" } ?? ""
            warnings.append("unknown key \(key) in config file \(configFile ?? "")\(hint); it is ignored")
        }
        let knownVariables = Dictionary(
            uniqueKeysWithValues: ConfigurationKeys.all.map { (ConfigurationKeys.environmentVariable(for: $0), $0) })
        var gatewayEnvironment: [String: String] = [:]
        for (name, value) in environment where name.hasPrefix(ConfigurationKeys.environmentPrefix) {
            if knownVariables[name] != nil {
                gatewayEnvironment[String(name.dropFirst(ConfigurationKeys.environmentPrefix.count))] = value
            } else if name == ConfigurationKeys.environmentVariable(for: ConfigurationKeys.routes) {
                warnings.append(
                    "\(name) is ignored: \(ConfigurationKeys.routes) is a list, set in the configuration file only")
            } else if name != ConfigurationKeys.configFileVariable {
                let asKey = name.dropFirst(ConfigurationKeys.environmentPrefix.count).lowercased()
                    .replacingOccurrences(of: "_", with: ".")
                // Only keys an environment variable can set (not the file-only route list).
                let hint = ConfigurationKeys.suggestion(for: asKey, among: ConfigurationKeys.all)
                    .map { " (did you mean \(ConfigurationKeys.environmentVariable(for: $0))?)" } ?? ""
                warnings.append("unknown environment variable \(name)\(hint); it is ignored")
            }
        }
        var problems = file?.problems ?? []
        for key in overrides.values.keys where !ConfigurationKeys.all.contains(key) {
            problems.append(ConfigurationProblem(key: key, reason: "not a configuration key"))
        }

        var providers: [any ConfigProvider] = [
            InMemoryProvider(
                name: "command line",
                values: Dictionary(uniqueKeysWithValues: overrides.values.map { key, value in
                    (AbsoluteConfigKey(ConfigKey(key)), ConfigValue(.string(value), isSecret: key == "admin.token"))
                })
            ),
            // `GATEWAY_` was stripped above; the provider maps `idempotency.lease` to `IDEMPOTENCY_LEASE`.
            EnvironmentVariablesProvider(
                environmentVariables: gatewayEnvironment,
                secretsSpecifier: .specific(["ADMIN_TOKEN"])
            ),
        ]
        if let file { providers.append(file.provider) }
        var values = ValueSource(
            reader: ConfigReader(providers: providers),
            overrides: overrides,
            environment: gatewayEnvironment,
            file: file
        )
        var configuration = GatewayConfiguration()
        configuration.read(from: &values)
        if let routes = file?.routes {
            configuration.idempotency.routes = RouteRulesParser.parse(routes, into: &values)
        }
        configuration.validate(into: &values)
        problems += values.problems
        guard problems.isEmpty else { throw ConfigurationError(problems: problems, warnings: warnings) }
        var sources: [String: String] = [:]
        for key in ConfigurationKeys.all {
            if let source = values.source(of: key) { sources[key] = source }
        }
        return LoadedConfiguration(
            configuration: configuration, warnings: warnings, configFile: configFile, sources: sources)
    }

    /// Reads every key, keeping the default where a key is not set anywhere.
    private mutating func read(from values: inout ValueSource) {
        listen = values.parse("listen", HostPort.expectation) { HostPort(parsing: $0) } ?? listen
        if let raw = values.string("admin.listen") {
            if raw.lowercased() == "off" {
                admin.listen = nil
            } else {
                admin.listen = values.check("admin.listen", raw, "expected HOST:PORT like 127.0.0.1:9090, or off") {
                    HostPort(parsing: $0)
                } ?? admin.listen
            }
        }
        admin.token = values.string("admin.token").flatMap { $0.isEmpty ? nil : $0 } ?? admin.token
        admin.maxConnections = values.count("admin.max-connections", minimum: 1) ?? admin.maxConnections

        if let raw = values.string("upstream.url"), !raw.isEmpty {
            if let problem = UpstreamEndpoint.problem(with: raw) {
                values.report("upstream.url", raw, problem)
            } else {
                upstream.url = UpstreamEndpoint(parsing: raw)
            }
        }
        upstream.connectTimeout = values.duration("upstream.connect-timeout", positive: true) ?? upstream.connectTimeout
        upstream.timeout = values.duration("upstream.timeout", positive: true) ?? upstream.timeout
        upstream.maxIdleConnections = values.count("upstream.max-idle-connections", minimum: 0)
            ?? upstream.maxIdleConnections
        upstream.maxResponseBodyBytes =
            values.size("upstream.max-response-body-bytes", minimum: 0) ?? upstream.maxResponseBodyBytes
        upstream.idleConnectionTimeout =
            values.duration("upstream.idle-connection-timeout", positive: true) ?? upstream.idleConnectionTimeout
        upstream.maxHeaderBytes = values.size("upstream.max-header-bytes", minimum: 1) ?? upstream.maxHeaderBytes
        upstream.maxHeaderCount = values.count("upstream.max-header-count", minimum: 1) ?? upstream.maxHeaderCount

        server.maxRequestTarget = values.size("server.max-request-target", minimum: 1) ?? server.maxRequestTarget
        server.maxHeaderBytes = values.size("server.max-header-bytes", minimum: 1) ?? server.maxHeaderBytes
        server.maxHeaderCount = values.count("server.max-header-count", minimum: 1) ?? server.maxHeaderCount
        server.maxBodyBytes = values.size("server.max-body-bytes", minimum: 0) ?? server.maxBodyBytes
        server.streamBodiesOver = values.size("server.stream-bodies-over", minimum: 0) ?? server.streamBodiesOver
        server.maxBufferedBodyBytes =
            values.size("server.max-buffered-body-bytes", minimum: 0) ?? server.maxBufferedBodyBytes
        server.headerTimeout = values.duration("server.header-timeout", positive: true) ?? server.headerTimeout
        server.bodyTimeout = values.duration("server.body-timeout", positive: true) ?? server.bodyTimeout
        server.idleTimeout = values.duration("server.idle-timeout", positive: true) ?? server.idleTimeout
        server.writeTimeout = values.duration("server.write-timeout", positive: true) ?? server.writeTimeout
        server.maxConnections = values.count("server.max-connections", minimum: 1) ?? server.maxConnections
        server.backlog = values.count("server.backlog", minimum: 1) ?? server.backlog
        server.shutdownGrace = values.duration("server.shutdown-grace", positive: false) ?? server.shutdownGrace
        server.busyPollMicroseconds =
            values.count("server.busy-poll-microseconds", minimum: 0) ?? server.busyPollMicroseconds

        if let raw = values.string("store.path") {
            if raw.isEmpty { values.report("store.path", raw, "expected a file path or :memory:") } else { store.path = raw }
        }
        store.quickCheck = values.bool("store.quick-check") ?? store.quickCheck
        store.synchronous = values.choice("store.synchronous", StoreSettings.SynchronousMode.self) ?? store.synchronous
        store.busyTimeout = values.duration("store.busy-timeout", positive: false) ?? store.busyTimeout
        store.compressionThreshold = values.size("store.compression-threshold", minimum: 0)
            ?? store.compressionThreshold
        store.checkpointInterval = values.duration("store.checkpoint-interval", positive: false)
            ?? store.checkpointInterval

        readIdempotency(from: &values)

        if let raw = values.string("log.level") {
            log.level = values.check("log.level", raw, "expected one of trace, debug, info, notice, warning, error, critical") {
                Logger.Level(rawValue: $0.lowercased())
            } ?? log.level
        }
        log.format = values.choice("log.format", LogSettings.Format.self) ?? log.format
    }

    private mutating func readIdempotency(from values: inout ValueSource) {
        idempotency.keyTTL = values.duration("idempotency.key-ttl", positive: true) ?? idempotency.keyTTL
        idempotency.lease = values.duration("idempotency.lease", positive: true) ?? idempotency.lease
        idempotency.requireKey = values.bool("idempotency.require-key") ?? idempotency.requireKey
        idempotency.methods = values.methods("idempotency.methods") ?? idempotency.methods
        idempotency.maxKeyLength = values.count("idempotency.max-key-length", minimum: 1) ?? idempotency.maxKeyLength
        idempotency.scopeHeaders = values.headerNames("idempotency.scope-headers") ?? idempotency.scopeHeaders
        idempotency.fingerprintHeaders = values.headerNames("idempotency.fingerprint-headers")
            ?? idempotency.fingerprintHeaders
        idempotency.store5xx = values.bool("idempotency.store-5xx") ?? idempotency.store5xx
        idempotency.maxStoredResponseBytes = values.size("idempotency.max-stored-response-bytes", minimum: 0)
            ?? idempotency.maxStoredResponseBytes
        idempotency.maxBufferedResponseBytes = values.size("idempotency.max-buffered-response-bytes", minimum: 0)
            ?? idempotency.maxBufferedResponseBytes
        idempotency.failOpen = values.bool("idempotency.fail-open") ?? idempotency.failOpen
        idempotency.maxInFlight = values.count("idempotency.max-in-flight", minimum: 1) ?? idempotency.maxInFlight
        idempotency.unstoredQueueBytes =
            values.size("idempotency.unstored-queue-bytes", minimum: 0) ?? idempotency.unstoredQueueBytes
        idempotency.unstoredQueueEntries =
            values.count("idempotency.unstored-queue-entries", minimum: 1) ?? idempotency.unstoredQueueEntries
        idempotency.droppedResponseHeaders = values.headerNames("idempotency.dropped-response-headers")
            ?? idempotency.droppedResponseHeaders
        idempotency.sweepInterval = values.duration("idempotency.sweep-interval", positive: true)
            ?? idempotency.sweepInterval
        idempotency.sweepBatch = values.count("idempotency.sweep-batch", minimum: 1) ?? idempotency.sweepBatch
        idempotency.bloom.expectedKeys = values.count("idempotency.bloom.expected-keys", minimum: 1)
            ?? idempotency.bloom.expectedKeys
        if let raw = values.string("idempotency.bloom.false-positive-rate") {
            idempotency.bloom.falsePositiveRate = values.check(
                "idempotency.bloom.false-positive-rate", raw, "expected a number between 0 and 1 (exclusive) like 0.001"
            ) { Double($0).flatMap { $0 > 0 && $0 < 1 ? $0 : nil } } ?? idempotency.bloom.falsePositiveRate
        }
        idempotency.hotCacheBytes = values.size("idempotency.hot-cache-bytes", minimum: 0) ?? idempotency.hotCacheBytes
        idempotency.hotCacheMaxAge =
            values.duration("idempotency.hot-cache-max-age", positive: true) ?? idempotency.hotCacheMaxAge
        if let raw = values.string("idempotency.documentation-url") {
            idempotency.documentationURL = values.check(
                "idempotency.documentation-url", raw, "expected an http:// or https:// URL"
            ) { $0.hasPrefix("https://") || $0.hasPrefix("http://") ? $0 : nil } ?? idempotency.documentationURL
        }
    }

    /// Rules that involve more than one key.
    private func validate(into values: inout ValueSource) {
        if let adminListen = admin.listen, !adminListen.isLoopback, admin.token == nil {
            values.report(
                "admin.token", nil,
                "required when admin.listen (\(adminListen)) is not a loopback address; set admin.token or GATEWAY_ADMIN_TOKEN, or use admin.listen: off"
            )
        }
        if let adminListen = admin.listen, adminListen == listen, listen.port != 0 {
            values.report("admin.listen", adminListen.description, "must differ from listen")
        }
    }
}
