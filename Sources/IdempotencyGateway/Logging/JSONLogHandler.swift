// JSON log lines: `{"ts":"…","level":"info","label":"gateway","message":"listening","address":"…"}`.
import GatewayHTTP
public import Logging

/// A `LogHandler` writing one JSON object per line (`log.format: json`).
///
/// Fields: `ts` (RFC 3339 UTC, milliseconds), `level`, `label`, `message`, then the metadata flattened
/// into top-level string fields (nested keys joined with `.`); a metadata key that collides with a fixed
/// field is written as `metadata.<key>`. An attached error is written as `error`.
public struct JSONLogHandler: LogHandler {
    /// The logger label.
    public let label: String
    /// Records below this level are dropped.
    public var logLevel: Logger.Level
    /// Metadata attached to every record of this handler.
    public var metadata: Logger.Metadata = [:]
    /// Contributes task-local metadata to every record.
    public var metadataProvider: Logger.MetadataProvider?
    private let output: LogOutput

    /// Creates a handler for `label` writing to `output`.
    public init(label: String, level: Logger.Level, output: LogOutput = .standardError,
                metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.output = output
        self.metadataProvider = metadataProvider
    }

    /// Metadata value for `key`.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let fixedFields: Set<String> = ["ts", "level", "label", "message", "error"]

    /// Formats and writes `event`.
    public func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", LogTimestamp.now()), ("level", event.level.rawValue), ("label", label),
            ("message", event.message.description),
        ]
        let merged = LogMetadata.merge(metadata, metadataProvider?.get(), event.metadata)
        for (key, value) in LogMetadata.flatten(merged) {
            fields.append((Self.fixedFields.contains(key) ? "metadata.\(key)" : key, value))
        }
        if let error = event.error { fields.append(("error", String(describing: error))) }
        output.emit("{" + fields.map { "\(Self.quote($0.0)):\(Self.quote($0.1))" }.joined(separator: ",") + "}")
    }

    /// `text` as a JSON string literal (RFC 8259 §7).
    static func quote(_ text: String) -> String {
        "\"" + ProblemDetails.jsonEscaped(text) + "\""
    }
}
