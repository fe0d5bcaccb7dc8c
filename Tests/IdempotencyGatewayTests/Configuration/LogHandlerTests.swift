import Foundation
import IdempotencyGateway
import Logging
import Synchronization
import Testing

/// Captures emitted lines.
final class LineSink: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    var output: LogOutput { LogOutput { line in self.storage.withLock { $0.append(line) } } }
}

@Suite("Log handlers")
struct LogHandlerTests {
    @Test func jsonHandlerWritesOneObjectPerRecordWithFlattenedMetadata() throws {
        let sink = LineSink()
        var settings = GatewayConfiguration.LogSettings()
        settings.format = .json
        settings.level = .debug
        var logger = Logger(label: "gateway.test") { label in
            GatewayLogging.makeHandler(label: label, settings: settings, output: sink.output)
        }
        logger[metadataKey: "conn"] = "7"
        logger.trace("dropped")
        logger.info("hello \"world\"\n", metadata: ["request": ["id": "abc", "n": "1"], "level": "x"])
        #expect(sink.lines.count == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(sink.lines[0].utf8)) as? [String: String])
        #expect(object["level"] == "info")
        #expect(object["label"] == "gateway.test")
        #expect(object["message"] == "hello \"world\"\n")
        #expect(object["request.id"] == "abc")
        #expect(object["conn"] == "7")
        #expect(object["metadata.level"] == "x")
        #expect(object["ts"]?.hasSuffix("Z") == true)
    }

    @Test func textHandlerWritesReadableLines() {
        let sink = LineSink()
        let logger = Logger(label: "gateway") { label in
            TextLogHandler(label: label, level: .info, output: sink.output)
        }
        logger.debug("dropped")
        logger.warning("slow upstream", metadata: ["ms": "1500", "path": "/a b"])
        #expect(sink.lines.count == 1)
        #expect(sink.lines[0].contains(" warning gateway: slow upstream ms=1500 path=\"/a b\""))
    }
}
