// Loop-driven connections (GatewayServer's LoopDrivenConnection): plain forwards are served on the loop's events
// without a task, and everything else is handed over to the connection's task. These tests drive both sides through
// a whole gateway with a real upstream on real sockets, and check with LoopDrivenCounters which way requests went.
import Foundation
import GatewayServer
import GatewaySockets
import IdempotencyGateway
import Synchronization
import TestSupport
import Testing

@Suite("Loop-driven connections", .serialized)
struct LoopDrivenConnectionTests {
    /// An upstream that answers every request with its path as the body.
    static func pathEchoing() throws -> ScriptedUpstream {
        try ScriptedUpstream(
            script: ScriptedUpstream.answering { request in
                "HTTP/1.1 200 OK\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)"
            })
    }

    static func configuration(_ directory: ScratchDirectory, upstream: ScriptedUpstream) -> GatewayConfiguration {
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(upstream.port)")
        return configuration
    }

    static var forwarded: Int { LoopDrivenCounters.forwarded.load(ordering: .relaxed) }
    static var handedOver: Int { LoopDrivenCounters.handedOver.load(ordering: .relaxed) }

    @Test("plain requests on a keep-alive connection, one by one and pipelined, are answered in order without a task")
    func plainRequestsStayOnTheLoop() async throws {
        let directory = try ScratchDirectory("loop-plain")
        defer { directory.remove() }
        let upstream = try Self.pathEchoing()
        defer { Task { await upstream.stop() } }
        try await withGateway(Self.configuration(directory, upstream: upstream)) { gateway in
            let forwardedBefore = Self.forwarded
            let client = try await TestClient.connect(port: gateway.port)
            defer { client.close() }
            for index in 0..<3 {
                try await client.send("GET /one/\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "/one/\(index)")
            }
            // Five requests in one write, POSTs with bodies among them: answered in order.
            var pipelined = ""
            for index in 0..<5 {
                pipelined +=
                    index % 2 == 0
                    ? "GET /piped/\(index) HTTP/1.1\r\nHost: x\r\n\r\n"
                    : "POST /piped/\(index) HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            }
            try await client.send(pipelined)
            let responses = try await client.readResponses(5)
            #expect(responses.map(\.text) == (0..<5).map { "/piped/\($0)" })
            #expect(upstream.requests.filter { $0.path.hasPrefix("/piped/") }.map(\.body.count) == [0, 3, 0, 3, 0])
            // Counted when the connection ends. Other tests' gateways may run meanwhile: at least this connection's
            // requests were counted.
            client.close()
            #expect(await eventually(timeout: .seconds(5)) { Self.forwarded - forwardedBefore >= 8 }, "forwarded on the loop")
        }
    }

    @Test("a keyed request hands the connection over; later plain and keyed requests are still answered in order")
    func keyedRequestHandsOver() async throws {
        let directory = try ScratchDirectory("loop-keyed")
        defer { directory.remove() }
        let upstream = try Self.pathEchoing()
        defer { Task { await upstream.stop() } }
        try await withGateway(Self.configuration(directory, upstream: upstream)) { gateway in
            let handedOverBefore = Self.handedOver
            let client = try await TestClient.connect(port: gateway.port)
            defer { client.close() }
            let keyed = "POST /orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: \"loop-k1\"\r\nContent-Length: 2\r\n\r\n{}"
            try await client.send("GET /before HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "/before")
            try await client.send(keyed)
            let first = try await client.readResponse(method: .post)
            #expect(first.status == 200 && first.text == "/orders")
            #expect(Self.handedOver - handedOverBefore >= 1, "handed over at the keyed request")
            try await client.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n" + keyed)
            let rest = try await client.readResponses(2, methods: [.get, .post])
            #expect(rest[0].text == "/after")
            #expect(rest[1].status == 200 && rest[1].text == "/orders")
            #expect(upstream.requests.filter { $0.path == "/orders" }.count == 1, "the retry was replayed, not forwarded")
        }
    }

    @Test("after a keyed request, plain requests in a row bring the connection back to its loop")
    func backToTheLoop() async throws {
        let directory = try ScratchDirectory("loop-back")
        defer { directory.remove() }
        let upstream = try Self.pathEchoing()
        defer { Task { await upstream.stop() } }
        try await withGateway(Self.configuration(directory, upstream: upstream)) { gateway in
            let returnedBefore = LoopDrivenCounters.returned.load(ordering: .relaxed)
            let forwardedBefore = Self.forwarded
            let client = try await TestClient.connect(port: gateway.port)
            defer { client.close() }
            let keyed = "POST /orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: \"loop-back\"\r\nContent-Length: 2\r\n\r\n{}"
            func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n" }
            // The keyed request hands the connection to its task; two plain ones give it back to the loop.
            try await client.send(keyed)
            #expect(try await client.readResponse(method: .post).text == "/orders")
            for path in ["/task-1", "/task-2", "/loop-1", "/loop-2"] {
                try await client.send(get(path))
                #expect(try await client.readResponse().text == path)
            }
            #expect(LoopDrivenCounters.returned.load(ordering: .relaxed) - returnedBefore >= 1, "back on the loop")
            // And over again: the retry is replayed by the task, the plain requests after it answered in order.
            try await client.send(keyed + get("/after-1") + get("/after-2"))
            let rest = try await client.readResponses(3, methods: [.post, .get, .get])
            #expect(rest.map(\.text) == ["/orders", "/after-1", "/after-2"])
            #expect(upstream.requests.filter { $0.path == "/orders" }.count == 1, "the retry was replayed, not forwarded")
            client.close()
            #expect(
                await eventually(timeout: .seconds(5)) { Self.forwarded - forwardedBefore >= 2 },
                "the requests after the return were forwarded on the loop")
        }
    }

    @Test("a head split across reads, a request that closes its connection, and a large response are handed over")
    func handOverCases() async throws {
        let directory = try ScratchDirectory("loop-handover")
        defer { directory.remove() }
        let large = String(repeating: "L", count: 200_000)
        let upstream = try ScriptedUpstream(
            script: ScriptedUpstream.answering { request in
                let body = request.path == "/large" ? large : request.path
                return "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            })
        defer { Task { await upstream.stop() } }
        try await withGateway(Self.configuration(directory, upstream: upstream)) { gateway in
            let split = try await TestClient.connect(port: gateway.port)
            defer { split.close() }
            try await split.send("GET /split HTTP/1.1\r\nHo")
            try await Task.sleep(for: .milliseconds(50))
            try await split.send("st: x\r\n\r\n")
            #expect(try await split.readResponse().text == "/split")
            // The task serves the rest of the connection.
            try await split.send("GET /split-2 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await split.readResponse().text == "/split-2")

            let closing = try await TestClient.connect(port: gateway.port)
            defer { closing.close() }
            try await closing.send("GET /close HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let closed = try await closing.readResponse()
            #expect(closed.text == "/close")
            #expect(closed.header("Connection") == "close")
            #expect(await closing.isClosedByPeer(within: .seconds(5)))

            // Over the streaming size (64 KiB by default): relayed as a stream by the task.
            let streamed = try await TestClient.connect(port: gateway.port)
            defer { streamed.close() }
            try await streamed.send("GET /large HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n")
            let both = try await streamed.readResponses(2)
            #expect(both[0].text == large)
            #expect(both[1].text == "/small")
        }
    }

    @Test("a slow reader gets the whole response: the loop writes the rest as the socket drains")
    func slowReader() async throws {
        let directory = try ScratchDirectory("loop-slow")
        defer { directory.remove() }
        let body = String(repeating: "0123456789abcdef", count: 4 << 16)  // 4 MiB
        let upstream = try ScriptedUpstream(
            script: ScriptedUpstream.answering { _ in "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" })
        defer { Task { await upstream.stop() } }
        var configuration = Self.configuration(directory, upstream: upstream)
        // Buffered, not streamed: the response is the loop's to write.
        configuration.server.streamBodiesOver = 8 << 20
        try await withGateway(configuration) { gateway in
            let before = Self.forwarded
            let client = try await TestClient.connect(port: gateway.port)
            defer { client.close() }
            try await client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Task.sleep(for: .milliseconds(300))  // the kernel's buffers fill meanwhile
            let response = try await client.readResponse()
            #expect(response.body.count == body.utf8.count)
            #expect(response.text == body)
            try await client.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().body.count == body.utf8.count)
            client.close()
            #expect(await eventually(timeout: .seconds(5)) { Self.forwarded - before >= 2 }, "forwarded on the loop")
        }
    }

    @Test("a pooled connection the upstream closed: a GET is sent again on a new one, a POST is not")
    func closedPooledConnection() async throws {
        let directory = try ScratchDirectory("loop-pooled")
        defer { directory.remove() }
        // Each connection answers its first request, then reads the next one and closes without answering.
        let upstream = try ScriptedUpstream { connection in
            guard let first = try await connection.readRequest() else { return }
            try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(first.path.utf8.count)\r\n\r\n\(first.path)")
            _ = try await connection.readRequest()
            connection.close()
        }
        defer { Task { await upstream.stop() } }
        try await withGateway(Self.configuration(directory, upstream: upstream)) { gateway in
            let client = try await TestClient.connect(port: gateway.port)
            defer { client.close() }
            try await client.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "/warm")
            // On the connection just pooled, which the upstream closes after reading: sent again.
            try await client.send("GET /resent HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "/resent")
            #expect(upstream.requests.filter { $0.path == "/resent" }.count == 2)
            // The same for a POST (not safe, RFC 9110 §9.2.1): a 502, and the upstream saw it once.
            try await client.send("POST /once HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
            let failed = try await client.readResponse(method: .post)
            #expect(failed.status == 502)
            #expect(upstream.requests.filter { $0.path == "/once" }.count == 1)
        }
    }

    @Test("an upstream that does not answer in time: 504 on a pooled connection")
    func upstreamTimeout() async throws {
        let directory = try ScratchDirectory("loop-timeout")
        defer { directory.remove() }
        let upstream = try ScriptedUpstream { connection in
            guard let first = try await connection.readRequest() else { return }
            try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(first.path.utf8.count)\r\n\r\n\(first.path)")
            _ = try await connection.readRequest()
            try await Task.sleep(for: .seconds(5))  // never answers in time (cancelled by stop())
        }
        defer { Task { await upstream.stop() } }
        var configuration = Self.configuration(directory, upstream: upstream)
        configuration.upstream.timeout = .milliseconds(300)
        try await withGateway(configuration) { gateway in
            let client = try await TestClient.connect(port: gateway.port)
            defer { client.close() }
            try await client.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "/warm")
            let started = ContinuousClock.now
            try await client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 504)
            #expect(ContinuousClock.now - started < .seconds(3))
        }
    }

    @Test("an idle loop-driven connection is closed after the idle timeout")
    func idleTimeout() async throws {
        let directory = try ScratchDirectory("loop-idle")
        defer { directory.remove() }
        let upstream = try Self.pathEchoing()
        defer { Task { await upstream.stop() } }
        var configuration = Self.configuration(directory, upstream: upstream)
        configuration.server.idleTimeout = .milliseconds(300)
        try await withGateway(configuration) { gateway in
            let client = try await TestClient.connect(port: gateway.port)
            defer { client.close() }
            try await client.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().text == "/x")
            let started = ContinuousClock.now
            #expect(await client.isClosedByPeer(within: .seconds(5)))
            #expect(ContinuousClock.now - started >= .milliseconds(200))
        }
    }

    @Test("shutdown: an idle loop-driven connection is closed; one with a request in flight gets its answer, then closes")
    func gracefulShutdown() async throws {
        let directory = try ScratchDirectory("loop-shutdown")
        defer { directory.remove() }
        let upstream = try ScriptedUpstream { connection in
            while let request = try await connection.readRequest(timeout: .seconds(30)) {
                if request.path == "/slow" { try await Task.sleep(for: .milliseconds(300)) }
                try await connection.write(
                    "HTTP/1.1 200 OK\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)")
            }
        }
        defer { Task { await upstream.stop() } }
        try await TrafficLock.shared.sharing {
            let gateway = try await Gateway.start(
                configuration: Self.configuration(directory, upstream: upstream), logger: quietLogger)
            let idle = try await TestClient.connect(port: gateway.port)
            defer { idle.close() }
            let busy = try await TestClient.connect(port: gateway.port)
            defer { busy.close() }
            for client in [idle, busy] {
                try await client.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try await client.readResponse().text == "/warm")
            }
            try await busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Task.sleep(for: .milliseconds(100))  // on its way upstream
            let started = ContinuousClock.now
            async let shutdown: Void = gateway.shutdown()
            #expect(await idle.isClosedByPeer(within: .seconds(2)), "the idle connection is closed at once")
            let answer = try await busy.readResponse()
            #expect(answer.text == "/slow")
            #expect(answer.header("Connection") == "close")
            #expect(await busy.isClosedByPeer(within: .seconds(2)))
            await shutdown
            #expect(ContinuousClock.now - started < .seconds(3))
        }
    }
}
