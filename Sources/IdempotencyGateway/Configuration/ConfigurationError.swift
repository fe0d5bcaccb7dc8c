// Errors and warnings produced while loading configuration.

/// One thing wrong with the configuration, naming the key, the offending value and where it came from.
public struct ConfigurationProblem: Sendable, Equatable, CustomStringConvertible {
    /// The dotted key (`idempotency.lease`), or a file path for file-level problems.
    public var key: String
    /// The offending value as written, if there is one (secrets are never recorded).
    public var value: String?
    /// What was expected or why the value is refused.
    public var reason: String
    /// Where the value came from (`environment variable GATEWAY_IDEMPOTENCY_LEASE`), if not the default.
    public var source: String?

    /// Creates a problem description.
    public init(key: String, value: String? = nil, reason: String, source: String? = nil) {
        self.key = key
        self.value = value
        self.reason = reason
        self.source = source
    }

    /// `invalid value "10x" for idempotency.lease: expected a duration like 500ms, 10s, 3m, 24h (from …)`.
    public var description: String {
        var text: String
        if let value {
            text = "invalid value \"\(value)\" for \(key): \(reason)"
        } else {
            text = "\(key): \(reason)"
        }
        if let source { text += " (from \(source))" }
        return text
    }
}

/// Thrown by ``GatewayConfiguration/load(overrides:environment:configFile:)`` when any value is invalid;
/// it lists every problem found, not only the first.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The problems, in key order.
    public var problems: [ConfigurationProblem]
    /// Warnings found along the way (unknown keys), which often explain the problems.
    public var warnings: [String]

    /// Creates an error from one or more problems.
    public init(problems: [ConfigurationProblem], warnings: [String] = []) {
        self.problems = problems
        self.warnings = warnings
    }

    /// One problem per line.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
