// `idempotency-gateway keys list|show|delete|stats`: inspect and manage the key store offline.
import ArgumentParser
import IdempotencyGateway

/// `keys` command group.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Inspect or delete stored idempotency keys.",
        subcommands: [List.self, Show.self, Delete.self, Stats.self]
    )

    /// The store location shared by the `keys` subcommands.
    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp(
            "SQLite key store file (default: store.path from GATEWAY_STORE_PATH or the config file, else data/idempotency.sqlite).",
            valueName: "path"))
        var store: String?

        @Option(name: .long, help: ArgumentHelp(
            "YAML configuration file used to find store.path (default: $GATEWAY_CONFIG, else config/gateway.yaml when present).",
            valueName: "file"))
        var config: String?

        /// `--store`, else the configured `store.path`.
        func storePath() throws -> String {
            if let store { return store }
            return try ConfigurationLoading.load(configFile: config).configuration.store.path
        }
    }

    /// `keys list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List stored records: scope, key, state, status, created, expires (tab-separated).",
            discussion: """
                The scope column is what `keys show --scope` takes (`-` for the unscoped space). The state is \
                in_flight, lease_ended (in flight with its lease over: the next request takes the key over), \
                completed or expired; for a key in flight, expires is its lease's end.
                """)

        @Option(name: .long, help: "Only this scope's records (hex hash as listed; - for the unscoped space).")
        var scope: String?

        @Option(name: .long, help: "At most this many records.")
        var limit = 100

        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let path = try storeOptions.storePath()
            try await reportingFailure {
                print(try await KeyAdministration.list(scope: scope.map(KeyAdministration.scope), limit: limit, storePath: path))
            }
        }
    }

    /// `keys show KEY`
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one stored record as JSON.")

        @Argument(help: "The Idempotency-Key value, bare or in its quoted sf-string form.")
        var key: String

        @Option(name: .long, help: "The key's scope as `keys list` shows it (hex hash; default: -, the unscoped space).")
        var scope = ""

        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let path = try storeOptions.storePath()
            try await reportingFailure {
                print(try await KeyAdministration.show(key: key, scope: KeyAdministration.scope(scope), storePath: path))
            }
        }
    }

    /// `keys delete KEY...`
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete stored records so the keys can be reused.",
            discussion: "Prints `deleted KEY` or `not-found KEY` per key; exits 0 either way.")

        @Argument(help: "One or more Idempotency-Key values, bare or quoted.")
        var keys: [String]

        @Option(name: .long, help: "The keys' scope as `keys list` shows it (hex hash; default: -, the unscoped space).")
        var scope = ""

        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            if keys.isEmpty { throw ValidationError("give at least one KEY") }
        }

        func run() async throws {
            let path = try storeOptions.storePath()
            try await reportingFailure {
                let results = try await KeyAdministration.delete(keys: keys, scope: KeyAdministration.scope(scope), storePath: path)
                for key in keys { print("\(results[key] == true ? "deleted" : "not-found") \(key)") }
            }
        }
    }

    /// `keys stats`
    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print key store statistics.")

        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let path = try storeOptions.storePath()
            try await reportingFailure { print(try await KeyAdministration.stats(storePath: path)) }
        }
    }
}

/// Runs `body`, turning an error into `error: …` on standard error and exit status 1.
private func reportingFailure(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        ConfigurationLoading.printError("error: \(error)")
        throw ExitCode.failure
    }
}
