// Values given on the command line, which take precedence over everything else.

/// Configuration values from `serve` flags, keyed by dotted configuration key (highest precedence).
///
/// Values are raw strings, validated like every other source: `["idempotency.lease": "5s"]`.
public struct CommandLineOverrides: Sendable, Equatable {
    /// Raw values by dotted key.
    public private(set) var values: [String: String] = [:]
    /// The flag each value came from (`--lease`), used in error messages.
    public private(set) var flags: [String: String] = [:]

    /// No overrides.
    public init() {}

    /// Overrides from a dictionary of dotted keys to raw values.
    public init(_ values: [String: String]) {
        self.values = values
    }

    /// Sets `key` to `value` when `value` is not `nil`, remembering the flag that supplied it.
    public mutating func set(_ key: String, to value: String?, flag: String? = nil) {
        guard let value else { return }
        values[key] = value
        if let flag { flags[key] = flag }
    }
}
