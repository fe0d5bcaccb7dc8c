import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Testing
import TestSupport

/// Upstreams that are down, slow, or broken: the client gets `502`/`504` as `application/problem+json`,
/// and its own connection stays usable.
@Suite("Reverse proxy: upstream failures")
struct ProxyUpstreamFailureTests {
    /// A loopback port with nothing listening, held until the returned value is released (see ``DeadPort``).
    static func deadPort() throws -> DeadPort { try DeadPort() }

    static func expectProblem(_ response: TestClient.Response, status: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(response.header("Content-Type") == "application/problem+json", sourceLocation: sourceLocation)
        #expect(response.text.contains("\"status\":\(status)"), sourceLocation: sourceLocation)
    }

    @Test func unreachableUpstreamAnswers502() async throws {
        let dead = try Self.deadPort()
        defer { withExtendedLifetime(dead) {} }
        try await withGateway(to: dead.address, upstream: { $0.connectTimeout = .seconds(20) }) { gateway in
            let client = try await gateway.connect()
            for _ in 0..<3 {
                let start = ContinuousClock.now
                try await client.send("POST /x HTTP/1.1\r\nHost: d.test\r\nContent-Length: 1\r\n\r\nx")
                let response = try await client.readResponse(method: .post)
                Self.expectProblem(response, status: 502)
                // Refused, not timed out (generous: the machine may be busy).
                #expect(ContinuousClock.now - start < .seconds(10), "connection refused should fail fast")
            }
            // All three went over the same client connection: a 502 does not close it.
            #expect(gateway.server.connectionCount == 1)
        }
    }

    /// One upstream that misbehaves according to the request path.
    static let misbehaving: @Sendable (ScriptedConnection) async throws -> Void = { connection in
        while let request = try await connection.readRequest(timeout: .seconds(30)) {
            switch request.path {
            case "/ok":
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            case "/slow":
                // Never answers; waits for the gateway to give up and hang up.
                await connection.waitForPeerClose(timeout: .seconds(5))
                return
            case "/cut-body":
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it")
                return
            case "/cut-head":
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Ty")
                return
            case "/cut-chunk":
                try await connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                return
            case "/reset":
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
                connection.reset()
                return
            case "/garbage":
                try await connection.write("HELLO THERE\r\n\r\n")
                return
            case "/bad-status":
                try await connection.write("HTTP/1.1 20x OK\r\nContent-Length: 0\r\n\r\n")
                return
            case "/smuggle":
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                return
            case "/two-lengths":
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
                return
            case "/switch":
                try await connection.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                return
            case "/huge":
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "h", count: 5000))
            case "/big-head":
                try await connection.write("HTTP/1.1 200 OK\r\nX-Big: \(String(repeating: "b", count: 2048))\r\nContent-Length: 0\r\n\r\n")
                return
            case "/many-fields":
                let fields = (0..<41).map { "X-F\($0): v\r\n" }.joined()
                try await connection.write("HTTP/1.1 200 OK\r\n\(fields)Content-Length: 0\r\n\r\n")
                return
            default:
                try await connection.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            }
        }
    }

    @Test func brokenExchangesAnswer502AndTheClientConnectionSurvives() async throws {
        let broken = [
            "/cut-body", "/cut-head", "/cut-chunk", "/reset", "/garbage", "/bad-status", "/smuggle", "/two-lengths", "/switch",
            "/huge", "/many-fields", "/big-head",
        ]
        try await withScriptedUpstream(script: Self.misbehaving) { upstream in
            try await withGateway(to: upstream.address, upstream: {
                $0.maxResponseBodySize = 1000
                $0.responseLimits.maxHeaderCount = 40
                $0.responseLimits.maxHeaderSectionSize = 1024
            }) { gateway in
                let client = try await gateway.connect()
                for path in broken {
                    try await client.send("GET \(path) HTTP/1.1\r\nHost: b.test\r\n\r\n")
                    let response = try await client.readResponse()
                    Self.expectProblem(response, status: 502)
                    #expect(response.status == 502, "\(path)")
                    // Same client connection, next request: the gateway is fine.
                    try await client.send("GET /ok HTTP/1.1\r\nHost: b.test\r\n\r\n")
                    let ok = try await client.readResponse()
                    #expect(ok.status == 200, "after \(path)")
                    #expect(ok.text == "ok")
                }
                // Every broken request reached the upstream exactly once: nothing was retried.
                let paths = upstream.requests.map(\.path)
                for path in broken { #expect(paths.filter { $0 == path }.count == 1, "\(path)") }
            }
        }
    }

    @Test func slowUpstreamAnswers504AfterTheResponseTimeout() async throws {
        try await withScriptedUpstream(script: Self.misbehaving) { upstream in
            try await withGateway(to: upstream.address, upstream: { $0.responseTimeout = .seconds(1) }) { gateway in
                let client = try await gateway.connect()
                let start = ContinuousClock.now
                try await client.send("GET /slow HTTP/1.1\r\nHost: s.test\r\n\r\n")
                let response = try await client.readResponse()
                let elapsed = ContinuousClock.now - start
                Self.expectProblem(response, status: 504)
                #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(10), "\(elapsed)")
                // The timed-out upstream connection was closed by the gateway, not pooled.
                #expect(await eventually { upstream.finishedCount == 1 })
                try await client.send("GET /ok HTTP/1.1\r\nHost: s.test\r\n\r\n")
                #expect(try await client.readResponse().text == "ok")
                #expect(upstream.acceptedCount == 2)
            }
        }
    }

    @Test func requestDeadlineOverridesTheResponseTimeout() async throws {
        try await withScriptedUpstream(script: Self.misbehaving) { upstream in
            let client = UpstreamClient(configuration: UpstreamConfiguration(address: upstream.address, responseTimeout: .seconds(30)))
            defer { client.close() }
            var head = HTTPRequest(method: .get, scheme: nil, authority: "s.test", path: "/slow")
            head.headerFields[.userAgent] = "test"
            let start = ContinuousClock.now
            await #expect(throws: UpstreamError.timeout) {
                _ = try await client.send(head, body: [], deadline: .now + .milliseconds(200))
            }
            #expect(ContinuousClock.now - start < .seconds(10))
            head.path = "/ok"
            let response = try await client.send(head, body: [])
            #expect(response.body == Array("ok".utf8))
        }
    }
}
