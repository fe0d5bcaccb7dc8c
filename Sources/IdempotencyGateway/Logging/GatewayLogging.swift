// Installing the process-wide log handler from `log.level` and `log.format`.
public import Logging

/// Chooses and installs the gateway's `LogHandler`.
public enum GatewayLogging {
    /// A handler for `label` as configured by `settings`.
    public static func makeHandler(
        label: String,
        settings: GatewayConfiguration.LogSettings,
        output: LogOutput = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> any LogHandler {
        switch settings.format {
        case .text: TextLogHandler(label: label, level: settings.level, output: output, metadataProvider: metadataProvider)
        case .json: JSONLogHandler(label: label, level: settings.level, output: output, metadataProvider: metadataProvider)
        }
    }

    /// Calls `LoggingSystem.bootstrap` with the configured handler; call once, early in `main`.
    public static func bootstrap(_ settings: GatewayConfiguration.LogSettings, output: LogOutput = .standardError) {
        LoggingSystem.bootstrap { label in makeHandler(label: label, settings: settings, output: output) }
    }
}
