import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Idempotency
import Synchronization

/// The byte path (``ByteForwarding``): a request the idempotency engine would forward untouched, to a reverse-proxy
/// backend that can forward it as bytes (``ReverseProxyBackend/acceptsBytes(_:)``), is relayed without building
/// its swift-http-types form. What the client, the upstream, the access log and the metrics see is what
/// ``RequestLogger/handle(_:)`` gives them.
extension RequestLogger: ByteForwarding {
    /// Requests forwarded on the byte path since the process started (for the tests that show it is taken).
    static let bytePathRequests = Atomic<Int>(0)

    /// A request with a key may be under idempotency: the usual path decides (a key on a method no route covers is
    /// forwarded untouched there too).
    var declinedField: StaticString? { "idempotency-key" }

    func accepts(_ head: RawRequestHead) -> Bool {
        guard let proxy, proxy.acceptsBytes(head), let target = head.originFormTarget else { return false }
        var hasKey = false
        for index in 0..<head.fieldCount where head.bytes.equalsCaseInsensitive(head.name(at: index), "idempotency-key") {
            hasKey = true
        }
        // Without routes the path decides nothing: no String is made of it.
        let path = engine.configuration.routes.isEmpty ? "" : String(decoding: head.bytes[target], as: UTF8.self)
        return engine.forwardsWithoutIdempotency(method: head.method, path: path, hasKey: hasKey)
    }

    func forward(_ head: RawRequestHead, body: [UInt8], connection: ConnectionInfo) async -> GatewayResponse {
        let (message, exchange) = start(head, body: body, connection: connection)
        let answer: Result<UpstreamAnswer, UpstreamError>
        do throws(UpstreamError) {
            answer = .success(try await proxy!.client.exchange(message, method: head.method))
        } catch {
            answer = .failure(error)
        }
        return finish(exchange, answer)
    }

    /// What a byte-path exchange keeps between sending the request and relaying its answer.
    struct BytePathExchange: Sendable {
        var requestID: String
        var logged: LoggedRequest?
        var start: LoopTime
    }

    /// The request as it goes upstream, with what the access log needs of it; counts it in flight.
    fileprivate func start(
        _ head: RawRequestHead, body: [UInt8], connection: ConnectionInfo
    ) -> (message: [UInt8], exchange: BytePathExchange) {
        let start = LoopTime.now
        let requestID = Self.requestID(from: head)
        var logged: LoggedRequest?
        if logsRequests {
            // A key on a request forwarded untouched is logged (hashed) as on the usual path.
            var key: String?
            for index in 0..<head.fieldCount where head.bytes.equalsCaseInsensitive(head.name(at: index), "idempotency-key") {
                let value = String(decoding: head.bytes[head.value(at: index)], as: UTF8.self)
                key = key.map { $0 + ", " + value } ?? value
            }
            logged = LoggedRequest(
                method: head.method.rawValue, path: String(decoding: head.bytes[head.originFormTarget!], as: UTF8.self),
                key: key.map(Self.keyDigest))
        }
        inFlight.increment()
        let message = proxy!.forwardedRequest(head, body: body, connection: connection, requestID: requestID)
        return (message, BytePathExchange(requestID: requestID, logged: logged, start: start))
    }

    /// The response to the client for the upstream's `answer`: its head relayed with the gateway's edits, or a
    /// problem for a failure; counted and logged.
    fileprivate func finish(
        _ exchange: BytePathExchange, _ answer: consuming Result<UpstreamAnswer, UpstreamError>
    ) -> GatewayResponse {
        let requestID = exchange.requestID
        var response: GatewayResponse
        switch consume answer {
        case .success(.bytes(let raw, let body)):
            if let relayed = ReverseProxyBackend.relayedHead(raw, requestID: requestID) {
                response = GatewayResponse(status: raw.statusCode, encoded: relayed.encoded, hasDate: relayed.hasDate, body: body)
            } else {
                // Its Connection field names fields to remove: the usual way.
                do {
                    var materialized = try raw.materialize()
                    HopByHopHeaders.remove(from: &materialized.response.headerFields)
                    response = GatewayResponse(head: materialized.response, body: body)
                } catch {
                    // materialize() only throws for a head it was not built from: an upstream fault either way.
                    response = engine.passthroughFailure(.failed("\(error)"))
                }
                Self.setRequestID(requestID, on: &response)
            }
        case .success(.response(let usual)):
            response = usual
            Self.setRequestID(requestID, on: &response)
        case .failure(let error):
            response = engine.passthroughFailure(error)
            Self.setRequestID(requestID, on: &response)
        }
        inFlight.decrement()
        engine.countPassthrough()
        Self.bytePathRequests.add(1, ordering: .relaxed)
        return finish(
            consume response, outcome: .passthrough, logged: exchange.logged, requestID: requestID, start: exchange.start)
    }

    /// The client's `X-Request-Id` when sane (as ``requestID(from:)`` decides for the usual path; the byte path takes
    /// at most one such field), otherwise a new one.
    static func requestID(from head: RawRequestHead) -> String {
        for index in 0..<head.fieldCount where head.bytes.equalsCaseInsensitive(head.name(at: index), "x-request-id") {
            let value = head.bytes[head.value(at: index)]
            if (1...128).contains(value.count), value.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                return String(decoding: value, as: UTF8.self)
            }
        }
        return RequestIDGenerator.next()
    }
}

/// ``RequestLogger``'s byte path as one object, which the server's connections hold (``HTTPHandler/byteForwarding``):
/// a loop-driven exchange's completion then holds a reference to it, not a copy of the handler's fields (one retain
/// instead of one per field, per request). It forwards exactly as ``RequestLogger`` does.
final class BytePathForwarder: LoopForwarding {
    let front: RequestLogger

    init(front: RequestLogger) {
        self.front = front
    }

    var declinedField: StaticString? { front.declinedField }

    func accepts(_ head: RawRequestHead) -> Bool {
        front.accepts(head)
    }

    func forward(_ head: RawRequestHead, body: [UInt8], connection: ConnectionInfo) async -> GatewayResponse {
        await front.forward(head, body: body, connection: connection)
    }

    /// The loop-driven byte path (``LoopForwarding``): the same exchange, its response read on `loop`'s events.
    func forward(
        _ head: RawRequestHead, body: [UInt8], connection: ConnectionInfo, on loop: IOLoop,
        completion: @escaping @Sendable (consuming GatewayResponse) -> Void
    ) {
        let (message, exchange) = front.start(head, body: body, connection: connection)
        front.proxy!.client.exchange(message, method: head.method, on: loop, now: exchange.start) { answer in
            completion(self.front.finish(exchange, consume answer))
        }
    }
}
