import Logging
import Synchronization

/// Collects every record of the loggers made with ``handler()``, each as its message followed by its metadata
/// (`key=value`, sorted).
public final class CapturedLogs: Sendable {
    public let lines = Mutex<[String]>([])

    public init() {}

    /// A handler for `Logger(label:factory:)` that writes here.
    public func handler() -> some LogHandler { Handler(sink: self) }

    /// A logger that writes here.
    public func logger(label: String) -> Logger { Logger(label: label) { _ in self.handler() } }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let text = "\(event.message) " + merged.map { "\($0)=\($1)" }.sorted().joined(separator: " ")
            sink.lines.withLock { $0.append(text) }
        }
    }
}
