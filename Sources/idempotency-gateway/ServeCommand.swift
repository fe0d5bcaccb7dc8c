// `idempotency-gateway serve`: run the gateway.
import ArgumentParser
import IdempotencyGateway
import Logging

/// Runs the gateway in the foreground until SIGTERM/SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway (the default command).",
        discussion: "Flags override GATEWAY_* environment variables, which override the config file."
    )

    @Option(name: .long, help: ArgumentHelp(
        "YAML configuration file (default: $GATEWAY_CONFIG, else config/gateway.yaml when present).",
        valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp(
        "Address for client traffic, HOST:PORT or [IPv6]:PORT (default: 127.0.0.1:8080; key listen).",
        valueName: "host:port"))
    var listen: String?

    @Option(name: .long, help: ArgumentHelp(
        "Admin/metrics address, HOST:PORT or 'off' (default: 127.0.0.1:9090; key admin.listen).",
        valueName: "host:port|off"))
    var adminListen: String?

    @Option(name: .long, help: ArgumentHelp(
        "Upstream origin, http://host:port[/base-path] (default: the built-in echo backend; key upstream.url).",
        valueName: "url"))
    var upstream: String?

    @Option(name: .long, help: ArgumentHelp(
        "SQLite key store file, or :memory: (default: data/idempotency.sqlite; key store.path).",
        valueName: "path"))
    var store: String?

    @Option(name: .long, help: ArgumentHelp(
        "How long completed keys are remembered, e.g. 24h (default: 24h; key idempotency.key-ttl).",
        valueName: "duration"))
    var keyTTL: String?

    @Option(name: .long, help: ArgumentHelp(
        "How long an in-flight request holds its key, e.g. 60s (default: 60s; key idempotency.lease).",
        valueName: "duration"))
    var lease: String?

    @Option(name: .long, help: ArgumentHelp(
        "How long a client waits for the upstream before a 504, e.g. 30s (default: 30s; key upstream.timeout).",
        valueName: "duration"))
    var upstreamTimeout: String?

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Reject POST/PATCH without an Idempotency-Key with 400 (default: keys optional; key idempotency.require-key)."))
    var requireKey: Bool?

    @Option(name: .long, help: ArgumentHelp(
        "trace, debug, info, notice, warning, error or critical (default: info; key log.level).",
        valueName: "level"))
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp(
        "Log line format: text or json (default: text; key log.format).",
        valueName: "text|json"))
    var logFormat: String?

    /// The flags as configuration overrides.
    var overrides: CommandLineOverrides {
        var overrides = CommandLineOverrides()
        overrides.set("listen", to: listen, flag: "--listen")
        overrides.set("admin.listen", to: adminListen, flag: "--admin-listen")
        overrides.set("upstream.url", to: upstream, flag: "--upstream")
        overrides.set("store.path", to: store, flag: "--store")
        overrides.set("idempotency.key-ttl", to: keyTTL, flag: "--key-ttl")
        overrides.set("idempotency.lease", to: lease, flag: "--lease")
        overrides.set("upstream.timeout", to: upstreamTimeout, flag: "--upstream-timeout")
        overrides.set(
            "idempotency.require-key", to: requireKey.map { $0 ? "true" : "false" },
            flag: requireKey == false ? "--no-require-key" : "--require-key")
        overrides.set("log.level", to: logLevel, flag: "--log-level")
        overrides.set("log.format", to: logFormat, flag: "--log-format")
        return overrides
    }

    func run() async throws {
        let loaded = try ConfigurationLoading.load(configFile: config, overrides: overrides)
        // The rules across keys, reported like a bad value (with where it was set) before anything starts.
        try ConfigurationLoading.validate(loaded)
        let configuration = loaded.configuration
        GatewayLogging.bootstrap(configuration.log)
        let logger = Logger(label: "idempotency-gateway")
        logger.info("configuration loaded", metadata: ["file": "\(loaded.configFile ?? "none")"])
        try await Gateway.run(configuration: configuration)
    }
}
