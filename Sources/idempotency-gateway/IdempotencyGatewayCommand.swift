// The `idempotency-gateway` executable: argument parsing only; everything else lives in IdempotencyGateway.
import ArgumentParser
import IdempotencyGateway

/// `idempotency-gateway [serve|keys|check-config]`; `serve` is the default subcommand.
@main
struct IdempotencyGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idempotency-gateway",
        abstract: "An HTTP/1.1 reverse proxy that makes POST and PATCH safe to retry with Idempotency-Key.",
        discussion: """
            Configuration precedence: flags > environment (GATEWAY_*) > config file > defaults. The config \
            file is --config FILE, else $GATEWAY_CONFIG, else config/gateway.yaml when it exists. Every key is \
            documented in config/gateway.yaml; `check-config` prints the effective configuration.
            """,
        subcommands: [ServeCommand.self, KeysCommand.self, CheckConfigCommand.self, BenchStoreCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
