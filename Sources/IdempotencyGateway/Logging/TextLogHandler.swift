// Human-readable log lines: `2025-01-31T12:34:56.789Z info gateway: listening address=127.0.0.1:8080`.
public import Logging

/// A `LogHandler` writing one human-readable line per record (`log.format: text`).
public struct TextLogHandler: LogHandler {
    /// The logger label (e.g. `gateway.server`).
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

    /// Formats and writes `event`.
    public func log(event: LogEvent) {
        let merged = LogMetadata.merge(metadata, metadataProvider?.get(), event.metadata)
        var line = "\(LogTimestamp.now()) \(event.level) \(label): \(event.message)"
        for (key, value) in LogMetadata.flatten(merged) {
            line += " \(key)=\(Self.quoteIfNeeded(value))"
        }
        if let error = event.error { line += " error=\(Self.quoteIfNeeded(String(describing: error)))" }
        output.emit(line)
    }

    private static func quoteIfNeeded(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline })
        guard needsQuotes else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

/// Metadata merging and flattening shared by the text and JSON handlers.
enum LogMetadata {
    /// Handler metadata, then provider metadata, then per-record metadata; later wins.
    static func merge(_ layers: Logger.Metadata?...) -> Logger.Metadata {
        var merged: Logger.Metadata = [:]
        for layer in layers {
            if let layer { merged.merge(layer) { _, new in new } }
        }
        return merged
    }

    /// Nested dictionaries become dotted keys, arrays become `[a,b]`; sorted by key.
    static func flatten(_ metadata: Logger.Metadata) -> [(String, String)] {
        var result: [(String, String)] = []
        func visit(_ prefix: String, _ value: Logger.Metadata.Value) {
            switch value {
            case .string(let text): result.append((prefix, text))
            case .stringConvertible(let convertible): result.append((prefix, convertible.description))
            case .array(let items): result.append((prefix, "[" + items.map(\.description).joined(separator: ",") + "]"))
            case .dictionary(let nested):
                for (key, inner) in nested { visit("\(prefix).\(key)", inner) }
            }
        }
        for (key, value) in metadata { visit(key, value) }
        return result.sorted { $0.0 < $1.0 }
    }
}
