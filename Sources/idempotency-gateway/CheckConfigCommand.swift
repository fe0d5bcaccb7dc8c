// `idempotency-gateway check-config`: validate and print the effective configuration.
import ArgumentParser
import IdempotencyGateway

/// Validates the configuration from all sources and prints it as YAML (admin.token redacted).
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print the effective values as YAML.",
        discussion: """
            Reads the same sources as `serve` (config file, GATEWAY_* environment). Exits 0 when the \
            configuration is valid, 1 otherwise, naming each bad key and value on standard error. Unknown \
            keys are warnings (errors with --strict).
            """
    )

    @Option(name: .long, help: ArgumentHelp(
        "YAML configuration file (default: $GATEWAY_CONFIG, else config/gateway.yaml when present).",
        valueName: "file"))
    var config: String?

    @Flag(name: .long, help: "Treat warnings such as unknown keys as errors (default: off).")
    var strict = false

    func run() async throws {
        let loaded = try ConfigurationLoading.load(configFile: config)
        // The rules across keys that `serve` checks before it starts (a budget below a limit, route methods…), so
        // that a configuration this command passes also starts.
        try ConfigurationLoading.validate(loaded)
        if strict && !loaded.warnings.isEmpty {
            ConfigurationLoading.printError("error: --strict: \(loaded.warnings.count) warning(s)")
            throw ExitCode.failure
        }
        print("# effective configuration (config file: \(loaded.configFile ?? "none"))")
        print(loaded.configuration.render(), terminator: "")
    }
}
