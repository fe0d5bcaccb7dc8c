import GatewayBackends
import GatewayHTTP
import GatewaySockets
import HTTPTypes
import Idempotency
import Logging
import Metrics
import Synchronization

/// The outermost handler: gives every request an `X-Request-Id` (kept when the client sent a sane one,
/// generated otherwise, forwarded upstream by ``RequestIDForwarding`` and returned to the client), runs the
/// idempotency engine, and writes one access-log line per request: method, path, status, outcome, key (hashed),
/// duration, request id.
///
/// With a reverse-proxy backend (`proxy`), requests the engine forwards without idempotency can take the byte path
/// (``ByteForwarding``, in `RequestLogger+Bytes.swift`): same fields, same log line, same metrics.
struct RequestLogger: HTTPHandler {
    let engine: IdempotencyEngine
    let logger: Logger
    let inFlight: GatewayMetrics.InFlight
    /// The backend when it is the reverse proxy, whose byte path this handler offers.
    let proxy: ReverseProxyBackend?
    /// Whether the logger writes the access-log line (`info`), decided once: the level is fixed at start.
    let logsRequests: Bool
    /// The byte path the server's connections use, with a reverse-proxy backend (a copy of this handler inside).
    private(set) var bytePath: BytePathForwarder?

    init(engine: IdempotencyEngine, logger: Logger, inFlight: GatewayMetrics.InFlight, proxy: ReverseProxyBackend? = nil) {
        self.engine = engine
        self.logger = logger
        self.inFlight = inFlight
        self.proxy = proxy
        self.logsRequests = logger.logLevel <= .info
        if proxy != nil { bytePath = BytePathForwarder(front: self) }
    }

    var byteForwarding: (any ByteForwarding)? { bytePath }

    func handle(_ request: consuming GatewayRequest) async throws -> GatewayResponse {
        let start = LoopTime.now
        let requestID = Self.requestID(from: request.head.headerFields)
        // Into the header fields only if the request is forwarded (RequestIDForwarding), not for a replay.
        request.requestID = requestID
        // What the access log needs, taken before the request is handed on (it is consumed there).
        let logged: LoggedRequest? =
            logsRequests
            ? LoggedRequest(
                method: request.head.method.rawValue, path: request.head.path ?? "",
                key: request.head.headerFields[.idempotencyKeyField].map(Self.keyDigest))
            : nil
        inFlight.increment()
        var (response, outcome) = await engine.process(consume request)
        inFlight.decrement()
        Self.setRequestID(requestID, on: &response)
        return finish(response, outcome: outcome, logged: logged, requestID: requestID, start: start)
    }

    /// `X-Request-Id` on the response: an upstream's own id is replaced.
    static func setRequestID(_ requestID: String, on response: inout GatewayResponse) {
        if response.head.headerFields.contains(.requestID) {
            response.head.headerFields[.requestID] = requestID
        } else {
            // Not into `head`: a replay's fields are shared with the hot cache and would all be copied. Room for
            // the server's Date too.
            response.appendedFields.reserveCapacity(2)
            response.appendedFields.append(HTTPField(name: .requestID, value: requestID))
        }
    }

    /// Records the request's duration and writes its access-log line (for a streamed body, once the body is through).
    func finish(
        _ response: consuming GatewayResponse, outcome: IdempotencyOutcome,
        logged: LoggedRequest?, requestID: String, start: LoopTime
    ) -> GatewayResponse {
        var response = response
        let elapsed = LoopTime.now - start
        GatewayMetrics.requestDuration(outcome: outcome).recordNanoseconds(elapsed.nanoseconds)
        if let logged {
            var metadata: Logger.Metadata = [
                "method": "\(logged.method)",
                "path": "\(logged.path)",
                "status": "\(response.head.status.code)",
                "outcome": "\(outcome.rawValue)",
                "duration_ms": "\(Double(elapsed.nanoseconds) / 1_000_000)",
                "request_id": "\(requestID)",
            ]
            if let key = logged.key { metadata["key"] = "\(key)" }
            if let stream = response.bodyStream {
                // A streamed body is still to be sent: the line is written once its transfer has ended, with how it
                // ended and the whole duration.
                response.bodyStream = LoggedBodyStream(stream) { [logger, metadata] ending, bytes in
                    var metadata = metadata
                    metadata["duration_ms"] = "\(Double((LoopTime.now - start).nanoseconds) / 1_000_000)"
                    metadata["body"] = "\(ending.rawValue)"
                    metadata["body_bytes"] = "\(bytes)"
                    logger.info("request", metadata: metadata)
                }
            } else {
                logger.info("request", metadata: metadata)
            }
        }
        return response
    }

    /// The engine decides (streamed only when it forwards the request without idempotency).
    func acceptsStreamedBody(for head: HTTPRequest) -> Bool {
        engine.acceptsStreamedBody(for: head)
    }

    /// The digest of the key's value (`abc` and `"abc"` hash alike, as in the engine's own log lines); an invalid
    /// value is hashed as sent.
    static func keyDigest(_ fieldValue: String) -> String {
        KeyDigest.short(IdempotencyKey.value(of: fieldValue))
    }

    /// A client's `X-Request-Id` is kept when it is short visible ASCII; otherwise a new one is made.
    static func requestID(from fields: HTTPFields) -> String {
        if let given = fields[.requestID], (1...128).contains(given.utf8.count),
            given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        {
            return given
        }
        return RequestIDGenerator.next()
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let idempotencyKeyField = HTTPField.Name("Idempotency-Key")!
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// What the access log needs of a request, taken before the request is handed on. A nominal type, not a tuple:
/// its metadata is static (an optional tuple's is looked up at run time wherever it is copied).
struct LoggedRequest: Sendable {
    var method: String
    var path: String
    /// The key's digest (``RequestLogger/keyDigest(_:)``), when the request had one.
    var key: String?
}
