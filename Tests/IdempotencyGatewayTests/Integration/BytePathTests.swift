// The byte path (plain requests relayed from their bytes) against the usual path: for each request and each upstream
// answer, what the upstream receives and what the client receives must be the same either way.
import GatewayBackends
import GatewayHTTP
import GatewaySockets
import GatewayStore
import Idempotency
import Logging
import HTTPTypes
@testable import IdempotencyGateway
import Synchronization
import TestSupport
import Testing

@Suite("Byte path: the same bytes as the usual path", .serialized)
struct BytePathTests {
    /// Requests the byte path takes, and some it declines (a key, HEAD, a hop-by-hop field, two Via fields,
    /// HTTP/1.0, absolute form), which must come out the same too.
    static let requests: [String] = [
        "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        "POST /orders HTTP/1.1\r\nHost: example.com:8080\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"amount\":1}",
        "GET / HTTP/1.1\r\nhost: x\r\nx-request-id: abc-1\r\nvia: 1.0 lb\r\nx-forwarded-for:  10.0.0.1 \r\nX-Forwarded-Proto: https\r\n"
            + "Forwarded: for=10.0.0.1\r\nConnection: keep-alive\r\n\r\n",
        "DELETE /orders/1 HTTP/1.1\r\nHost:\r\nX-Request-Id: not sane\r\nEmpty:\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        // A key on a method no route covers: forwarded untouched, key included (by the usual path).
        "DELETE /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nIdempotency-Key: \"not-covered\"\r\n\r\nabc",
        "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /k HTTP/1.1\r\nHost: x\r\nKeep-Alive: 5\r\nConnection: keep-alive\r\n\r\n",
        "GET /v HTTP/1.1\r\nHost: x\r\nVia: 1.0 a\r\nVia: 1.0 b\r\n\r\n",
        "GET /ten HTTP/1.0\r\nHost: x\r\n\r\n",
        "GET http://example.com/abs HTTP/1.1\r\nHost: example.com\r\n\r\n",
    ]

    /// Upstream answers: sized, empty, bodyless with hop-by-hop fields, a Connection naming a field, chunked, HTTP/1.0,
    /// and an upstream id and Date (both replaced or kept as the usual path does).
    static let responses: [String] = [
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 201 \r\nLocation: /o/1\r\nx-request-id: upstream-id\r\nX-Request-Id: second\r\n"
            + "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: x\r\nTE: y\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nContent-Length: 1\r\n\r\nz",
        "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.0 200 Fine\r\nContent-Length: 3\r\n\r\nabc",
    ]

    /// What the upstream got, comparable: request line parts, every field (name as received, value) and the body.
    struct Forwarded: Equatable, CustomStringConvertible {
        var method: String
        var path: String
        var authority: String
        var fields: [String]
        var body: [UInt8]
        var description: String { "\(method) \(path) host=\(authority) \(fields) body=\(body.count)" }

        init(_ received: ScriptedUpstream.Received) {
            method = received.head.request.method.rawValue
            path = received.head.request.path ?? ""
            authority = received.head.request.authority ?? ""
            fields = received.head.request.headerFields.map { field in
                // A generated request id differs from run to run.
                let value = field.name == .init("X-Request-Id")! && field.value.count == 16 ? "<generated>" : field.value
                return "\(field.name.rawName): \(value)"
            }
            body = received.body
        }
    }

    /// What the client got, comparable (the server's own Date and a generated id masked).
    struct Answer: Equatable, CustomStringConvertible {
        var status: Int
        var reason: String
        var keepAlive: Bool
        var fields: [String]
        var body: [UInt8]
        var description: String { "\(status) \(reason) keepAlive=\(keepAlive) \(fields) body=\(body.count)" }

        init(_ response: TestClient.Response, upstreamDate: Bool) {
            status = response.status
            reason = response.head.response.status.reasonPhrase
            keepAlive = response.head.keepAlive
            fields = response.head.response.headerFields.map { field in
                var value = field.value
                if field.name == .date, !upstreamDate { value = "<now>" }
                if field.name == .init("X-Request-Id")!, value.count == 16 { value = "<generated>" }
                return "\(field.name.rawName): \(value)"
            }
            body = response.body
        }
    }

    @Test("every request and upstream answer: the upstream and the client get the same either way")
    func sameBytesEitherWay() async throws {
        let directory = try ScratchDirectory("byte-path")
        defer { directory.remove() }
        let before = RequestLogger.bytePathRequests.load(ordering: .relaxed)
        for (answerIndex, answer) in Self.responses.enumerated() {
            let upstream = try ScriptedUpstream(script: ScriptedUpstream.answering { _ in answer })
            defer { Task { await upstream.stop() } }
            var results: [[(Forwarded?, Answer)]] = []
            for bytePath in [true, false] {
                var configuration = GatewayConfiguration.forTesting(in: directory, admin: false)
                configuration.store.path = directory.path("store-\(answerIndex)-\(bytePath).sqlite")
                configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(upstream.port)/api")
                configuration.server.bytePath = bytePath
                let run = try await withGateway(configuration) { gateway in
                    var run: [(Forwarded?, Answer)] = []
                    for request in Self.requests {
                        let seen = upstream.requests.count
                        let client = try await TestClient.connect(port: gateway.port)
                        defer { client.close() }
                        try await client.send(request)
                        let method: HTTPRequest.Method = request.hasPrefix("HEAD") ? .head : .get
                        let response = try await client.readResponse(method: method)
                        let forwarded = upstream.requests.count > seen ? upstream.requests.last.map(Forwarded.init) : nil
                        run.append((forwarded, Answer(response, upstreamDate: answer.contains("Date:"))))
                    }
                    return run
                }
                results.append(run)
            }
            for (index, request) in Self.requests.enumerated() {
                let (bytes, usual) = (results[0][index], results[1][index])
                #expect(bytes.0 == usual.0, "upstream side, answer \(answerIndex), request \(request.debugDescription)")
                #expect(bytes.1 == usual.1, "client side, answer \(answerIndex), request \(request.debugDescription)")
                #expect(bytes.0 != nil, "the request reached the upstream")
            }
        }
        #expect(RequestLogger.bytePathRequests.load(ordering: .relaxed) - before >= 5 * Self.responses.count, "the byte path was taken")
    }
}

/// The byte path writes the access-log line the usual path writes (same fields, a key hashed alike).
@Suite("Byte path: the same access-log line")
struct BytePathAccessLogTests {
    @Test func theLineIsTheUsualOne() async throws {
        let upstream = try ScriptedUpstream(
            script: ScriptedUpstream.answering { _ in "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok" })
        defer { Task { await upstream.stop() } }
        let proxy = ReverseProxyBackend(
            configuration: UpstreamConfiguration(address: try SocketAddress(ip: "127.0.0.1", port: upstream.port)))
        defer { proxy.client.close() }
        let lines = CapturedLogs()
        var access = lines.logger(label: "access")
        access.logLevel = .info
        let engine = IdempotencyEngine(
            configuration: IdempotencyConfiguration(), store: InMemoryKeyStore(), next: RequestIDForwarding(next: proxy),
            logger: Logger(label: "engine") { _ in SwiftLogNoOpLogHandler() })
        let handler = RequestLogger(engine: engine, logger: access, inFlight: GatewayMetrics.InFlight(), proxy: proxy)

        let text = "DELETE /orders/7?x=1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-1\r\nIdempotency-Key: \"k-1\"\r\n\r\n"
        var decoder = HTTPRequestDecoder()
        decoder.rawHeads = true
        decoder.append(Array(text.utf8))
        guard case .rawHead(let raw)? = try decoder.next() else {
            Issue.record("expected a raw head")
            return
        }
        #expect(handler.accepts(raw))
        let viaBytes = await handler.forward(raw, body: [], connection: ConnectionInfo())
        let usual = try await handler.handle(GatewayRequest(head: try raw.materialize().request))
        #expect(viaBytes.head.status.code == 202)
        #expect(usual.head.status.code == 202)
        let logged = lines.lines.withLock { $0 }.map { line in
            // The duration differs from call to call.
            line.split(separator: " ").filter { !$0.hasPrefix("duration_ms=") }.joined(separator: " ")
        }
        try #require(logged.count == 2)
        #expect(logged[0] == logged[1])
        #expect(logged[0].contains("key=\(KeyDigest.short("k-1"))"))
        #expect(logged[0].contains("outcome=passthrough"))
        #expect(logged[0].contains("request_id=id-1"))
        #expect(logged[0].contains("path=/orders/7?x=1"))
    }
}
