import GatewayHTTP
import GatewayStore
import Idempotency
import Logging
import Synchronization
import TestSupport
import Testing

@testable import IdempotencyGateway

/// The access log hashes a key's value, as the engine's own log lines do, so their lines correlate.
@Suite("Access log key digest")
struct RequestLoggerTests {
    @Test func quotedAndBareFormsOfAKeyHashAlike() {
        let expected = KeyDigest.short("abc-123")
        for value in ["abc-123", "\"abc-123\"", "  \"abc-123\"\t", " abc-123 "] {
            #expect(RequestLogger.keyDigest(value) == expected, "\(value.debugDescription)")
        }
        // An escape is decoded first (sf-string, RFC 9651 §3.3.3).
        #expect(RequestLogger.keyDigest(#""a\\b""#) == KeyDigest.short(#"a\b"#))
        // An invalid value is hashed as sent.
        #expect(RequestLogger.keyDigest("\"abc") == KeyDigest.short("\"abc"))
    }
}

/// The access-log line of a streamed response is written once its body is through, saying how the transfer ended.
@Suite("Access log of streamed responses")
struct StreamedAccessLogTests {
    static func logger(streaming pieces: [[UInt8]]) -> (RequestLogger, CapturedLogs) {
        let lines = CapturedLogs()
        let backend = ClosureHandler { _ in
            GatewayResponse(head: HTTPResponse(status: .ok), bodyStream: ArrayBodyStream(pieces, announceLength: false))
        }
        let engine = IdempotencyEngine(
            configuration: IdempotencyConfiguration(), store: InMemoryKeyStore(), next: backend,
            logger: Logger(label: "engine") { _ in SwiftLogNoOpLogHandler() })
        let access = lines.logger(label: "access")
        return (RequestLogger(engine: engine, logger: access, inFlight: GatewayMetrics.InFlight()), lines)
    }

    static func request() -> GatewayRequest {
        var request = GatewayRequest(head: HTTPRequest(method: .get, scheme: nil, authority: "a", path: "/big"))
        request.allowsStreamedResponse = true
        return request
    }

    @Test func aCompleteTransferIsLoggedAtItsEnd() async throws {
        let (handler, lines) = Self.logger(streaming: [[1, 2, 3], [4, 5]])
        let response = try await handler.handle(Self.request())
        #expect(lines.lines.withLock { $0.isEmpty }, "nothing logged before the body is sent")
        _ = try await response.bodyStream?.collect()
        let line = try #require(lines.lines.withLock { $0.first })
        #expect(line.contains("body=complete"))
        #expect(line.contains("body_bytes=5"))
        #expect(line.contains("status=200"))
    }

    @Test func aTransferStoppedEarlySaysSo() async throws {
        let (handler, lines) = Self.logger(streaming: [[1, 2, 3], [4, 5]])
        let response = try await handler.handle(Self.request())
        let stream = try #require(response.bodyStream)
        _ = try await stream.next()
        stream.cancel()  // the client went away
        stream.cancel()
        #expect(lines.lines.withLock { $0 }.count == 1)
        #expect(lines.lines.withLock { $0[0] }.contains("body=cut-short"))
        #expect(lines.lines.withLock { $0[0] }.contains("body_bytes=3"))
    }
}
