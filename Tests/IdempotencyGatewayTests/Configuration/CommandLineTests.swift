import Foundation
import IdempotencyGateway
import Testing

/// Runs the built `idempotency-gateway` executable.
enum GatewayExecutable {
    /// The executable next to the test bundle (same build products directory).
    static let url: URL? = {
        var candidates: [URL] = []
        let selfExe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(selfExe.deletingLastPathComponent())
        if let argument = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: argument).deletingLastPathComponent())
        }
        candidates.append(Bundle.main.bundleURL)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        var directory = candidates[0]
        for _ in 0..<4 {  // inside a .xctest bundle on Darwin: …/debug/X.xctest/Contents/MacOS
            candidates.append(directory)
            directory = directory.deletingLastPathComponent()
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug"))
        return candidates.map { $0.appendingPathComponent("idempotency-gateway") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// Runs the executable with `arguments` in `directory` and `environment` (no inherited GATEWAY_*) to
    /// completion (a ``ChildProcess``: no cooperative thread blocks while the child runs).
    static func run(_ arguments: [String], directory: URL = packageRoot, environment: [String: String] = [:])
        async throws -> Result
    {
        let (exit, standardOutput, standardError) = try await ChildProcess.run(
            arguments, directory: directory, environment: environment)
        return Result(status: exit.status, standardOutput: standardOutput, standardError: standardError)
    }
}

@Suite("idempotency-gateway command line")
struct CommandLineTests {
    @Test func checkConfigOnTheShippedDefaultFile() async throws {
        let result = try await GatewayExecutable.run(["check-config"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("config file: config/gateway.yaml"))
        #expect(result.standardOutput.contains("listen: \"127.0.0.1:8080\""))
        #expect(result.standardOutput.contains("key-ttl: 24h"))
    }

    @Test func checkConfigOnTheProductionExampleRedactsTheToken() async throws {
        let result = try await GatewayExecutable.run(
            ["check-config", "--config", "config/production.example.yaml"],
            environment: ["GATEWAY_ADMIN_TOKEN": "very-secret-token"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("path-prefix: /v1/payments"))
        #expect(result.standardOutput.contains("<redacted>"))
        #expect(!result.standardOutput.contains("very-secret-token"))
        #expect(!result.standardError.contains("very-secret-token"))
    }

    @Test func checkConfigFailsNamingKeyAndValue() async throws {
        let file = try TemporaryYAML("idempotency:\n  lease: 10x\n  leese: 1s\n")
        defer { file.remove() }
        let result = try await GatewayExecutable.run(["check-config", "--config", file.path])
        #expect(result.status == 1)
        #expect(result.standardError.contains(
            "invalid value \"10x\" for idempotency.lease: expected a duration like 500ms, 10s, 3m, 24h"))
        #expect(result.standardError.contains("warning: unknown key idempotency.leese"))
        #expect(result.standardOutput.isEmpty)
    }

    /// The rules across keys are checked too: a configuration `check-config` passes is one `serve` starts with.
    @Test func checkConfigAppliesTheRulesAcrossKeys() async throws {
        let result = try await GatewayExecutable.run(
            ["check-config"], environment: ["GATEWAY_SERVER_MAX_BODY_BYTES": "1GiB"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("server.max-buffered-body-bytes: must be at least server.max-body-bytes"))
        #expect(result.standardOutput.isEmpty)
    }

    /// A value that breaks a rule across keys is reported, by `check-config` and by `serve` before it starts, with
    /// where it was set, as a single bad value is.
    @Test func ruleAcrossKeysNamesWhereTheValueWasSet() async throws {
        let environment = ["GATEWAY_SERVER_MAX_BUFFERED_BODY_BYTES": "1MiB"]
        for arguments in [["check-config"], ["serve", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--store", ":memory:"]] {
            let result = try await GatewayExecutable.run(arguments, environment: environment)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.standardError.contains(
                #"invalid value "1MiB" for server.max-buffered-body-bytes: must be at least server.max-body-bytes (8MiB)"#))
            #expect(result.standardError.contains("(from environment variable GATEWAY_SERVER_MAX_BUFFERED_BODY_BYTES)"))
        }
    }

    @Test func checkConfigStrictTurnsWarningsIntoFailure() async throws {
        let file = try TemporaryYAML("listn: 127.0.0.1:1\n")
        defer { file.remove() }
        #expect(try await GatewayExecutable.run(["check-config", "--config", file.path]).status == 0)
        #expect(try await GatewayExecutable.run(["check-config", "--strict", "--config", file.path]).status == 1)
    }

    @Test func environmentReachesTheExecutable() async throws {
        let result = try await GatewayExecutable.run(
            ["check-config"], environment: ["GATEWAY_IDEMPOTENCY_LEASE": "45s", "GATEWAY_UPSTREAM_URL": "https://x"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("GATEWAY_UPSTREAM_URL"))
        #expect(result.standardError.contains("TLS is not supported"))
    }

    @Test func serveRejectsBadFlagsBeforeStarting() async throws {
        let result = try await GatewayExecutable.run(["serve", "--lease", "2x", "--listen", "nope"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("invalid value \"2x\" for idempotency.lease"))
        #expect(result.standardError.contains("(from flag --lease)"))
        #expect(result.standardError.contains("invalid value \"nope\" for listen"))
        // `serve` is the default subcommand.
        let implicit = try await GatewayExecutable.run(["--lease", "2x"])
        #expect(implicit.status == 1)
        #expect(implicit.standardError.contains("idempotency.lease"))
    }

    @Test func helpListsEveryOptionWithItsDefault() async throws {
        let serve = try await GatewayExecutable.run(["serve", "--help"])
        #expect(serve.status == 0)
        for option in [
            "--config", "--listen", "--admin-listen", "--upstream", "--store", "--key-ttl", "--lease",
            "--upstream-timeout", "--require-key", "--log-level", "--log-format",
        ] {
            #expect(serve.standardOutput.contains(option), "\(option) missing from serve --help")
        }
        for defaultValue in ["127.0.0.1:8080", "127.0.0.1:9090", "data/idempotency.sqlite", "24h", "60s", "30s", "echo"] {
            #expect(serve.standardOutput.contains(defaultValue), "default \(defaultValue) missing from serve --help")
        }
        let root = try await GatewayExecutable.run(["--help"])
        #expect(root.status == 0)
        for command in ["serve", "keys", "check-config"] { #expect(root.standardOutput.contains(command)) }
        let keys = try await GatewayExecutable.run(["keys", "delete", "--help"])
        for option in ["--scope", "--store"] { #expect(keys.standardOutput.contains(option)) }
        let check = try await GatewayExecutable.run(["check-config", "--help"])
        #expect(check.standardOutput.contains("--config"))
    }
}
