// Helpers for the configuration tests: temporary YAML files and the package root.
import Foundation
import IdempotencyGateway

/// A YAML file in a fresh temporary directory, removed by `remove()`.
struct TemporaryYAML {
    let directory: URL
    let path: String

    init(_ contents: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("h4-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("gateway.yaml").path
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Loads `yaml` (written to a temporary file) with `environment` and `overrides`.
func loadYAML(
    _ yaml: String, environment: [String: String] = [:], overrides: [String: String] = [:]
) throws -> GatewayConfiguration {
    let file = try TemporaryYAML(yaml)
    defer { file.remove() }
    return try GatewayConfiguration.load(
        overrides: CommandLineOverrides(overrides), environment: environment, configFile: file.path)
}

/// The problems `yaml` produces, or `[]` when it loads.
func problems(in yaml: String, environment: [String: String] = [:]) throws -> [ConfigurationProblem] {
    do {
        _ = try loadYAML(yaml, environment: environment)
        return []
    } catch let error as ConfigurationError {
        return error.problems
    }
}

/// The package root, found from this file's path (…/Tests/IdempotencyGatewayTests/Configuration/x.swift).
let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
