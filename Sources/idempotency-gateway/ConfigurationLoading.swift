// Shared by the subcommands: load the configuration and report problems the same way everywhere.
import ArgumentParser
import Foundation
import IdempotencyGateway

/// Loads the configuration for a subcommand, printing every problem to standard error on failure.
enum ConfigurationLoading {
    /// Loads with `overrides`, the process environment and the resolved config file; warnings go to stderr.
    /// - Throws: `ExitCode.failure` after printing the problems when the configuration is invalid.
    static func load(configFile explicit: String?, overrides: CommandLineOverrides = CommandLineOverrides())
        throws -> LoadedConfiguration
    {
        let environment = ProcessInfo.processInfo.environment
        let file = GatewayConfiguration.configFilePath(explicit: explicit, environment: environment)
        do {
            let loaded = try GatewayConfiguration.loadWithWarnings(
                overrides: overrides, environment: environment, configFile: file)
            for warning in loaded.warnings { printError("warning: \(warning)") }
            return loaded
        } catch let error as ConfigurationError {
            for warning in error.warnings { printError("warning: \(warning)") }
            for problem in error.problems { printError("error: \(problem)") }
            throw ExitCode.failure
        }
    }

    /// Applies the rules across keys (``LoadedConfiguration/validate()``); each problem is printed with where its
    /// value was set, and the command fails.
    static func validate(_ loaded: LoadedConfiguration) throws {
        do throws(ConfigurationError) {
            try loaded.validate()
        } catch {
            for problem in error.problems { printError("error: \(problem)") }
            throw ExitCode.failure
        }
    }

    /// Writes `line` to standard error.
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
