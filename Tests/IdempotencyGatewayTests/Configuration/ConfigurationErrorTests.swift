import IdempotencyGateway
import Testing

@Suite("Invalid configuration is reported by key and value")
struct ConfigurationErrorTests {
    @Test func badDurationNamesKeyValueAndSource() throws {
        let found = try problems(in: "idempotency:\n  lease: 10x\n")
        #expect(found.count == 1)
        #expect(found.first?.description.hasPrefix(
            "invalid value \"10x\" for idempotency.lease: expected a duration like 500ms, 10s, 3m, 24h") == true)
        #expect(found.first?.source?.hasPrefix("config file ") == true)
    }

    @Test func badEnvironmentValueNamesTheVariable() throws {
        let found = try problems(in: "", environment: ["GATEWAY_UPSTREAM_TIMEOUT": "soon"])
        #expect(found.map(\.description) == [
            "invalid value \"soon\" for upstream.timeout: expected a duration like 500ms, 10s, 3m, 24h (from environment variable GATEWAY_UPSTREAM_TIMEOUT)"
        ])
    }

    @Test(arguments: [
        ("store:\n  synchronous: sometimes\n", "store.synchronous", "sometimes"),
        ("upstream:\n  url: https://api.example.com\n", "upstream.url", "https://api.example.com"),
        ("server:\n  max-body-bytes: -5\n", "server.max-body-bytes", "-5"),
        ("server:\n  max-header-count: 0\n", "server.max-header-count", "0"),
        ("listen: 8080\n", "listen", "8080"),
        ("log:\n  level: loud\n", "log.level", "loud"),
        ("idempotency:\n  require-key: maybe\n", "idempotency.require-key", "maybe"),
        ("idempotency:\n  bloom:\n    false-positive-rate: 2\n", "idempotency.bloom.false-positive-rate", "2"),
        ("idempotency:\n  methods: [POST, \"NOT A TOKEN\"]\n", "idempotency.methods", "NOT A TOKEN"),
        ("listen: [a, b]\n", "listen", "[a, b]"),
        ("idempotency:\n  routes:\n    - path-prefix: payments\n", "idempotency.routes[0].path-prefix", "payments"),
        ("idempotency:\n  routes:\n    - path-prefix: /p\n      lease: forever\n", "idempotency.routes[0].lease", "forever"),
    ])
    func badValuesAreNamed(yaml: String, key: String, value: String) throws {
        let found = try problems(in: yaml)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.key == key)
        #expect(found.first?.value == value)
        #expect(found.first?.description.contains("invalid value \"\(value)\" for \(key): ") == true)
    }

    /// `admin.max-connections` and `idempotency.unstored-queue-entries` are at least 1, whether read from the file or
    /// from the environment; the problem names the key, the value and (for the environment) the variable.
    @Test(arguments: ["admin.max-connections", "idempotency.unstored-queue-entries"], [
        ("0", "must be at least 1"), ("-1", "expected a whole number"),
    ])
    func connectionAndQueueEntryLimitsMustBePositive(key: String, refusal: (String, String)) throws {
        let (value, reason) = refusal
        let (section, name) = (key.split(separator: ".")[0], key.split(separator: ".")[1])
        let fromFile = try problems(in: "\(section):\n  \(name): \(value)\n")
        #expect(fromFile.count == 1, "\(fromFile)")
        #expect(fromFile.first?.key == key)
        #expect(fromFile.first?.value == value)
        #expect(fromFile.first?.description.hasPrefix(
            "invalid value \"\(value)\" for \(key): \(reason) (from config file ") == true)
        let variable = ConfigurationKeys.environmentVariable(for: key)
        let fromEnvironment = try problems(in: "", environment: [variable: value])
        #expect(fromEnvironment.map(\.description) == [
            "invalid value \"\(value)\" for \(key): \(reason) (from environment variable \(variable))"
        ])
    }

    /// A configuration built in code is held to the same minimum by ``GatewayConfiguration/validate()``, which
    /// ``Gateway/start(configuration:backend:logger:)`` calls.
    @Test func codeBuiltConnectionAndQueueEntryLimitsAreValidated() {
        var configuration = GatewayConfiguration.embedded
        configuration.admin.maxConnections = 0
        configuration.idempotency.unstoredQueueEntries = 0
        let error = #expect(throws: ConfigurationError.self) { try configuration.validate() }
        #expect(Set(error?.problems.map(\.key) ?? []) == ["admin.max-connections", "idempotency.unstored-queue-entries"])
        configuration.admin.maxConnections = 1
        configuration.idempotency.unstoredQueueEntries = 1
        #expect(throws: Never.self) { try configuration.validate() }
    }

    /// The response budget must hold at least one storable body, from the file as from code.
    @Test func responseBudgetBelowTheStorableSizeIsRefused() throws {
        let loaded = try loadYAML(
            "idempotency:\n  max-stored-response-bytes: 8MiB\n  max-buffered-response-bytes: 4MiB\n")
        let found = #expect(throws: ConfigurationError.self) { try loaded.validate() }?.problems ?? []
        #expect(found.map(\.key) == ["idempotency.max-buffered-response-bytes"])
        // Sizes as they are written, not in bytes.
        #expect(found.first?.reason.contains("at least idempotency.max-stored-response-bytes (8MiB)") == true)
        #expect(found.first?.value == "4MiB")
        #expect(throws: Never.self) { try loadYAML("idempotency:\n  max-buffered-response-bytes: 4MiB\n").validate() }
        var configuration = GatewayConfiguration.embedded
        configuration.idempotency.maxBufferedResponseBytes = configuration.idempotency.maxStoredResponseBytes - 1
        let error = #expect(throws: ConfigurationError.self) { try configuration.validate() }
        #expect(error?.problems.map(\.key) == ["idempotency.max-buffered-response-bytes"])
    }

    @Test func httpsUpstreamSaysTLSIsNotSupported() throws {
        let found = try problems(in: "upstream:\n  url: https://api.example.com\n")
        #expect(found.first?.reason.contains("TLS is not supported") == true)
    }

    @Test func nonLoopbackAdminNeedsAToken() throws {
        let found = try problems(in: "admin:\n  listen: 0.0.0.0:9090\n")
        #expect(found.map(\.key) == ["admin.token"])
        #expect(found.first?.description.contains("0.0.0.0:9090") == true)
        #expect(try problems(in: "admin:\n  listen: 0.0.0.0:9090\n", environment: ["GATEWAY_ADMIN_TOKEN": "t"]).isEmpty)
        #expect(try problems(in: "admin:\n  listen: off\nlisten: 0.0.0.0:8080\n").isEmpty)
    }

    @Test func everyProblemIsReportedAtOnce() throws {
        let found = try problems(in: "idempotency:\n  lease: 1x\n  key-ttl: 2y\nstore:\n  synchronous: maybe\n")
        #expect(Set(found.map(\.key)) == ["idempotency.lease", "idempotency.key-ttl", "store.synchronous"])
    }

    @Test func malformedYAMLNamesTheFile() throws {
        let file = try TemporaryYAML("idempotency:\n  methods: [POST\n")
        defer { file.remove() }
        #expect {
            try GatewayConfiguration.load(environment: [:], configFile: file.path)
        } throws: { error in
            let text = String(describing: error)
            return text.contains(file.path) && text.contains("malformed YAML")
        }
    }

    @Test func missingExplicitFileIsAnError() {
        #expect(throws: ConfigurationError.self) {
            try GatewayConfiguration.load(environment: [:], configFile: "/nonexistent/h4/gateway.yaml")
        }
    }

    @Test func tokenValuesNeverAppearInProblems() throws {
        let found = try problems(in: "admin:\n  token: [a, b]\n")
        #expect(found.count == 1)
        #expect(found.first?.value == nil)
    }
}
