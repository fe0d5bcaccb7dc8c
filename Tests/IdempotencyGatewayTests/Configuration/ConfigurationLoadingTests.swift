import Foundation
@testable import IdempotencyGateway
import Testing

@Suite("Configuration loading and precedence")
struct ConfigurationLoadingTests {
    @Test func defaultsWithoutAnySource() throws {
        let configuration = try GatewayConfiguration.load(environment: [:], configFile: nil)
        #expect(configuration == GatewayConfiguration())
        #expect(configuration.listen.description == "127.0.0.1:8080")
        #expect(configuration.admin.listen?.description == "127.0.0.1:9090")
        #expect(configuration.store.path == "data/idempotency.sqlite")
        #expect(configuration.idempotency.keyTTL == .seconds(86_400))
        #expect(configuration.idempotency.lease == .seconds(60))
        #expect(configuration.upstream.timeout == .seconds(30))
        #expect(configuration.upstream.url == nil)
        #expect(configuration.idempotency.requireKey == false)
        #expect(configuration.admin.maxConnections == 64)
        #expect(configuration.idempotency.unstoredQueueEntries == 1024)
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let yaml = """
            idempotency:
              lease: 11s
              key-ttl: 2h
              sweep-batch: 7
            upstream:
              timeout: 12s
            """
        let environment = ["GATEWAY_IDEMPOTENCY_LEASE": "22s", "GATEWAY_IDEMPOTENCY_KEY_TTL": "3h", "PATH": "/bin"]
        let configuration = try loadYAML(yaml, environment: environment, overrides: ["idempotency.lease": "33s"])
        #expect(configuration.idempotency.lease == .seconds(33))  // flag
        #expect(configuration.idempotency.keyTTL == .seconds(3 * 3600))  // environment over file
        #expect(configuration.upstream.timeout == .seconds(12))  // file
        #expect(configuration.idempotency.sweepBatch == 7)  // file
        #expect(configuration.upstream.connectTimeout == .seconds(5))  // default
    }

    /// Limits read from the file reach the settings of the module that enforces them.
    @Test func limitsReachTheirModules() throws {
        let yaml = """
            upstream:
              max-response-body-bytes: 2MiB
              idle-connection-timeout: 4s
              max-header-bytes: 16KiB
              max-header-count: 40
            server:
              max-buffered-body-bytes: 64MiB
              write-timeout: 7s
              busy-poll-microseconds: 0
              backlog: 77
            store:
              quick-check: false
            idempotency:
              max-stored-response-bytes: 100MiB
              max-buffered-response-bytes: 300MiB
              unstored-queue-bytes: 8MiB
              unstored-queue-entries: 12
            """
        let configuration = try loadYAML(yaml)
        let server = try configuration.serverConfiguration(listen: configuration.listen)
        #expect(server.maxBufferedBodyBytes == 64 << 20)
        #expect(server.writeTimeout == .seconds(7))
        #expect(server.backlog == 77)
        #expect(configuration.busyPoll == .zero)
        #expect(GatewayConfiguration().busyPoll == .microseconds(100))
        let upstream = try configuration.upstreamConfiguration(UpstreamEndpoint(address: HostPort(host: "127.0.0.1", port: 9)))
        #expect(upstream.maxResponseBodySize == 2 << 20)
        #expect(upstream.idleConnectionTimeout == .seconds(4))
        #expect(upstream.responseLimits.maxHeaderSectionSize == 16 << 10)
        #expect(upstream.responseLimits.maxHeaderCount == 40)
        #expect(configuration.storeOptions.quickCheckAtOpen == false)
        #expect(configuration.engineConfiguration.unstoredQueueBytes == 8 << 20)
        #expect(configuration.engineConfiguration.unstoredQueueEntries == 12)
        #expect(GatewayConfiguration().engineConfiguration.unstoredQueueEntries == 1024)
        #expect(configuration.engineConfiguration.maxBufferedResponseBytes == 300 << 20)
        #expect(GatewayConfiguration().engineConfiguration.maxBufferedResponseBytes == 512 << 20)
        // A stored body is read back up to what may be stored (above the store's own 64 MiB default).
        #expect(configuration.storeOptions.maxBodyBytes == 100 << 20)
        #expect(GatewayConfiguration().storeOptions.maxBodyBytes == 64 << 20)
    }

    /// `admin.max-connections` and `idempotency.unstored-queue-entries` are read from the file and from their
    /// environment variables (which win over the file), and are printed by `check-config`.
    @Test func adminConnectionsAndUnstoredQueueEntriesLoadFromFileAndEnvironment() throws {
        let yaml = """
            admin:
              max-connections: 8
            idempotency:
              unstored-queue-entries: 16
            """
        let fromFile = try loadYAML(yaml)
        #expect(fromFile.admin.maxConnections == 8)
        #expect(fromFile.idempotency.unstoredQueueEntries == 16)

        let environment = ["GATEWAY_ADMIN_MAX_CONNECTIONS": "3", "GATEWAY_IDEMPOTENCY_UNSTORED_QUEUE_ENTRIES": "5"]
        let fromEnvironment = try GatewayConfiguration.loadWithWarnings(environment: environment, configFile: nil)
        #expect(fromEnvironment.warnings.isEmpty, "both are known variables")
        #expect(fromEnvironment.configuration.admin.maxConnections == 3)
        #expect(fromEnvironment.configuration.idempotency.unstoredQueueEntries == 5)

        let both = try loadYAML(yaml, environment: environment)
        #expect(both.admin.maxConnections == 3)
        #expect(both.idempotency.unstoredQueueEntries == 5)
        let rendered = both.render()
        #expect(rendered.contains("admin:\n  listen: \"127.0.0.1:9090\"\n  token: null\n  max-connections: 3\n"))
        #expect(rendered.contains("  unstored-queue-bytes: 64MiB\n  unstored-queue-entries: 5\n"))
        #expect(try loadYAML(rendered) == both)
    }

    /// `idempotency.max-buffered-response-bytes` from the environment, as a size, and as `check-config` prints it.
    @Test func responseBudgetLoadsFromEnvironmentAndIsRendered() throws {
        let loaded = try GatewayConfiguration.loadWithWarnings(
            environment: ["GATEWAY_IDEMPOTENCY_MAX_BUFFERED_RESPONSE_BYTES": "96MiB"], configFile: nil)
        #expect(loaded.warnings.isEmpty, "a known variable")
        #expect(loaded.configuration.idempotency.maxBufferedResponseBytes == 96 << 20)
        #expect(loaded.configuration.engineConfiguration.maxBufferedResponseBytes == 96 << 20)
        let rendered = loaded.configuration.render()
        #expect(rendered.contains("  max-stored-response-bytes: 4MiB\n  max-buffered-response-bytes: 96MiB\n"))
        #expect(try loadYAML(rendered) == loaded.configuration)
    }

    @Test func environmentCoversListsBooleansAndNestedKeys() throws {
        let configuration = try GatewayConfiguration.load(
            environment: [
                "GATEWAY_IDEMPOTENCY_METHODS": "post, put",
                "GATEWAY_IDEMPOTENCY_REQUIRE_KEY": "true",
                "GATEWAY_IDEMPOTENCY_BLOOM_FALSE_POSITIVE_RATE": "0.01",
                "GATEWAY_UPSTREAM_URL": "http://127.0.0.1:3000",
                "GATEWAY_ADMIN_LISTEN": "off",
                "GATEWAY_SERVER_MAX_BODY_BYTES": "1MiB",
                "GATEWAY_SERVER_STREAM_BODIES_OVER": "256KiB",
                "GATEWAY_LOG_LEVEL": "debug",
                "GATEWAY_LOG_FORMAT": "json",
            ],
            configFile: nil)
        #expect(configuration.idempotency.methods == ["POST", "PUT"])
        #expect(configuration.idempotency.requireKey)
        #expect(configuration.idempotency.bloom.falsePositiveRate == 0.01)
        #expect(configuration.upstream.url?.address == HostPort(host: "127.0.0.1", port: 3000))
        #expect(configuration.admin.listen == nil)
        #expect(configuration.server.maxBodyBytes == 1 << 20)
        #expect(configuration.server.streamBodiesOver == 256 << 10)
        #expect(configuration.render().contains("  stream-bodies-over: 256KiB\n"))
        #expect(configuration.log.level == .debug)
        #expect(configuration.log.format == .json)
    }

    @Test func fileReadsEveryKindOfValueAndRoutes() throws {
        let configuration = try loadYAML("""
            listen: "[::1]:0"
            admin:
              listen: 0.0.0.0:9191
              token: s3cret
            store:
              path: ":memory:"
              synchronous: full
              checkpoint-interval: 0
            server:
              max-body-bytes: 64KiB
            idempotency:
              methods: [POST]
              scope-headers: [Authorization, X-Tenant]
              store-5xx: yes
              routes:
                - path-prefix: /payments
                  require-key: true
                  key-ttl: 7d
            """.replacingOccurrences(of: "7d", with: "168h"))
        #expect(configuration.listen == HostPort(host: "::1", port: 0))
        #expect(configuration.admin.token == "s3cret")
        #expect(configuration.store.isInMemory)
        #expect(configuration.store.synchronous == .full)
        #expect(configuration.store.checkpointInterval == .zero)
        #expect(configuration.storeOptions.checkpointInterval == nil)
        #expect(GatewayConfiguration().storeOptions.checkpointInterval == .milliseconds(250))
        #expect(configuration.server.maxBodyBytes == 65_536)
        #expect(configuration.idempotency.scopeHeaders == ["Authorization", "X-Tenant"])
        #expect(configuration.idempotency.store5xx)
        #expect(configuration.idempotency.routes == [
            GatewayConfiguration.RouteRule(pathPrefix: "/payments", requireKey: true, keyTTL: .seconds(168 * 3600))
        ])
    }

    @Test func renderRoundTripsAndRedactsTheToken() throws {
        var configuration = try loadYAML("""
            upstream:
              url: http://10.1.2.3:8081/api
            idempotency:
              key-ttl: 90m
              routes:
                - path-prefix: /a
                  methods: [PUT]
                  lease: 5s
            """)
        let rendered = configuration.render()
        #expect(try loadYAML(rendered) == configuration)
        configuration.admin.token = "hunter2"
        let redacted = configuration.render()
        #expect(!redacted.contains("hunter2"))
        #expect(redacted.contains("token: \"<redacted>\""))
        #expect(rendered.contains("key-ttl: 1h30m"))
    }

    @Test func shippedDefaultFileEqualsTheBuiltInDefaults() throws {
        let path = packageRoot.appendingPathComponent("config/gateway.yaml").path
        let loaded = try GatewayConfiguration.loadWithWarnings(environment: [:], configFile: path)
        #expect(loaded.configuration == GatewayConfiguration())
        #expect(loaded.warnings.isEmpty)
        // Every key is documented in the shipped file.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for key in ConfigurationKeys.all + [ConfigurationKeys.routes] {
            #expect(text.contains("\(key.split(separator: ".").last!):"), "\(key) missing from gateway.yaml")
        }
    }

    @Test func shippedProductionExampleLoads() throws {
        let path = packageRoot.appendingPathComponent("config/production.example.yaml").path
        let loaded = try GatewayConfiguration.loadWithWarnings(environment: [:], configFile: path)
        #expect(loaded.warnings.isEmpty)
        #expect(loaded.configuration.idempotency.routes.count == 3)
        #expect(loaded.configuration.upstream.url != nil)
        #expect(loaded.configuration.log.format == .json)
    }

    @Test func unknownKeysAndVariablesAreWarnedWithSuggestions() throws {
        let file = try TemporaryYAML("idempotency:\n  leese: 5s\nlisten: 127.0.0.1:1\n")
        defer { file.remove() }
        let loaded = try GatewayConfiguration.loadWithWarnings(
            environment: ["GATEWAY_UPSTREAM_TIMEOUTT": "5s", "GATEWAY_CONFIG": "x"], configFile: file.path)
        #expect(loaded.warnings.count == 2)
        #expect(loaded.warnings.contains { $0.contains("idempotency.leese") && $0.contains("did you mean idempotency.lease") })
        #expect(loaded.warnings.contains { $0.contains("GATEWAY_UPSTREAM_TIMEOUTT") && $0.contains("GATEWAY_UPSTREAM_TIMEOUT") })
        #expect(loaded.configuration.listen.port == 1)
    }

    @Test func theRouteListIsNotSetFromTheEnvironment() throws {
        let loaded = try GatewayConfiguration.loadWithWarnings(
            environment: ["GATEWAY_IDEMPOTENCY_ROUTES": "x", "GATEWAY_IDEMPOTENCY_ROUTE": "y"], configFile: nil)
        #expect(loaded.warnings.count == 2)
        #expect(loaded.warnings.contains {
            $0.hasPrefix("GATEWAY_IDEMPOTENCY_ROUTES is ignored") && $0.contains("configuration file only")
        })
        // A near miss is not pointed at the route list either: no variable sets it.
        #expect(loaded.warnings.contains { $0.hasPrefix("unknown environment variable GATEWAY_IDEMPOTENCY_ROUTE ") })
        #expect(!loaded.warnings.contains { $0.contains("did you mean GATEWAY_IDEMPOTENCY_ROUTES") })
        #expect(loaded.configuration.idempotency.routes == GatewayConfiguration().idempotency.routes)
    }

    @Test func nullAndEmptyDocumentsMeanUnset() throws {
        #expect(try loadYAML("") == GatewayConfiguration())
        #expect(try loadYAML("upstream:\n  url: null\nadmin:\n  token: ~\n") == GatewayConfiguration())
    }

    @Test func environmentVariableNames() {
        #expect(ConfigurationKeys.environmentVariable(for: "upstream.url") == "GATEWAY_UPSTREAM_URL")
        #expect(ConfigurationKeys.environmentVariable(for: "idempotency.lease") == "GATEWAY_IDEMPOTENCY_LEASE")
        #expect(ConfigurationKeys.environmentVariable(for: "idempotency.store-5xx") == "GATEWAY_IDEMPOTENCY_STORE_5XX")
        #expect(ConfigurationKeys.environmentVariable(for: "admin.max-connections") == "GATEWAY_ADMIN_MAX_CONNECTIONS")
        #expect(
            ConfigurationKeys.environmentVariable(for: "idempotency.unstored-queue-entries")
                == "GATEWAY_IDEMPOTENCY_UNSTORED_QUEUE_ENTRIES")
    }
}
