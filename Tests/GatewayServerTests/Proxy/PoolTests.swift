import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Synchronization
import Testing
import TestSupport

/// The upstream client's keep-alive pool, observed from a raw upstream that counts its connections.
@Suite("Reverse proxy: keep-alive pool")
struct ProxyPoolTests {
    /// A keep-alive upstream answering `200` with the request path as body.
    static let keepAlive = ScriptedUpstream.answering { request in
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)"
    }

    /// Idle connections are pooled per event loop: a request reuses one of its own loop's connections.
    static var loopCount: Int { IOLoopGroup.shared.loops.count }

    @Test func fiftySequentialRequestsUseOneUpstreamConnection() async throws {
        try await withScriptedUpstream(script: Self.keepAlive) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                for i in 0..<50 {
                    try await client.send("GET /seq/\(i) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                    let response = try await client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.text == "/seq/\(i)")
                }
                #expect(upstream.acceptedCount == 1)
                #expect(upstream.requests.count == 50)
                #expect(upstream.requests.allSatisfy { $0.connection == 0 })
                #expect(upstream.requests.map(\.path) == (0..<50).map { "/seq/\($0)" })

                // The pool outlives client connections: new clients, one after the other, need at most one
                // upstream connection per event loop.
                for i in 0..<20 {
                    let next = try await gateway.connect()
                    try await next.send("GET /new/\(i) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                    #expect(try await next.readResponse().text == "/new/\(i)")
                    next.close()
                }
                #expect(upstream.acceptedCount <= Self.loopCount)
                #expect(upstream.requests.count == 70)
            }
        }
    }

    /// A pooled connection keeps its response decoder: responses of every framing, one after the other on one
    /// upstream connection, are each relayed whole (RFC 9112 §6.3: no body after HEAD, 204 and 304).
    @Test func oneConnectionCarriesResponsesOfEveryFraming() async throws {
        let upstreamScript = ScriptedUpstream.answering { request in
            switch request.path {
            case "/chunked":
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
            case "/head": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
            case "/empty": "HTTP/1.1 204 No Content\r\n\r\n"
            case "/cached": "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"
            default: "HTTP/1.1 200 OK\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)"
            }
        }
        try await withScriptedUpstream(script: upstreamScript) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                let steps: [(method: String, path: String, status: Int, body: String)] = [
                    ("GET", "/sized", 200, "/sized"), ("GET", "/chunked", 200, "abcde"), ("HEAD", "/head", 200, ""),
                    ("GET", "/empty", 204, ""), ("GET", "/cached", 304, ""), ("GET", "/again", 200, "/again"),
                    ("GET", "/chunked", 200, "abcde"), ("GET", "/last", 200, "/last"),
                ]
                for step in steps {
                    try await client.send("\(step.method) \(step.path) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                    let response = try await client.readResponse(method: step.method == "HEAD" ? .head : .get)
                    #expect(response.status == step.status, "\(step.path)")
                    #expect(response.text == step.body, "\(step.path)")
                }
                #expect(upstream.acceptedCount == 1)
                #expect(upstream.requests.count == steps.count)
            }
        }
    }

    @Test func concurrentRequestsOpenConnectionsThatAreThenReused() async throws {
        try await withScriptedUpstream(script: Self.keepAlive) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<8 {
                        group.addTask {
                            let client = try await gateway.connect()
                            for i in 0..<5 {
                                try await client.send("GET /c/\(lane)/\(i) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                                #expect(try await client.readResponse().text == "/c/\(lane)/\(i)")
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let opened = upstream.acceptedCount
                #expect(opened >= 1 && opened <= 8)
                let client = try await gateway.connect()
                for i in 0..<20 {
                    try await client.send("GET /after/\(i) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                    #expect(try await client.readResponse().text == "/after/\(i)")
                }
                // At most one new connection (when the burst left none on this client's event loop).
                #expect(upstream.acceptedCount <= opened + 1, "sequential requests after the burst kept opening connections")
                #expect(upstream.requests.count == 60)
            }
        }
    }

    /// The upstream closes each connection right after its response, without `Connection: close`. The pooled
    /// connection is dead by the next request: the pool must notice before sending anything, and the request
    /// goes out once, on a fresh connection.
    @Test func idleConnectionClosedByTheUpstreamIsDiscarded() async throws {
        try await withScriptedUpstream(script: { connection in
            guard let request = try await connection.readRequest() else { return }
            try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)")
            connection.close()
        }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                for round in 0..<4 {
                    // Let the upstream's close reach the pooled connection before the next request: its script
                    // has returned and its descriptor is gone (left on the upstream's port: the listener and the
                    // gateway's pooled connection).
                    #expect(await eventually { upstream.finishedCount == round })
                    #expect(await eventually { openTCPSocketCount(ports: [upstream.port]) <= (round == 0 ? 1 : 2) })
                    try await client.send("GET /r/\(round) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                    let response = try await client.readResponse()
                    #expect(response.status == 200, "round \(round): \(response.text)")
                    #expect(response.text == "/r/\(round)")
                }
                #expect(upstream.requests.map(\.path) == (0..<4).map { "/r/\($0)" })
                #expect(upstream.acceptedCount == 4)
                #expect(upstream.scriptErrors.isEmpty, "\(upstream.scriptErrors)")
            }
        }
    }

    /// Without traffic nothing takes a pooled connection out again: an idle connection the upstream closed is still
    /// closed (within a pruning interval), instead of sitting in `CLOSE-WAIT` with its descriptor until the next
    /// request.
    @Test func idleConnectionClosedByTheUpstreamIsClosedWithoutTraffic() async throws {
        try await withScriptedUpstream(script: { connection in
            guard let request = try await connection.readRequest() else { return }
            try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)")
            try await Task.sleep(for: .milliseconds(50))
            connection.close()
        }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET /once HTTP/1.1\r\nHost: p.test\r\n\r\n")
                #expect(try await client.readResponse().text == "/once")
                #expect(await eventually { upstream.finishedCount == 1 })
                // Left on the upstream's port: its listener only.
                #expect(await eventually(timeout: .seconds(5)) { openTCPSocketCount(ports: [upstream.port]) == 1 })
            }
        }
    }

    @Test func connectionsIdleLongerThanTheTimeoutAreClosedWithoutTraffic() async throws {
        try await withScriptedUpstream(script: Self.keepAlive) { upstream in
            try await withGateway(to: upstream.address, upstream: { $0.idleConnectionTimeout = .milliseconds(100) }) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET /a HTTP/1.1\r\nHost: p.test\r\n\r\n")
                #expect(try await client.readResponse().text == "/a")
                // Closed by the gateway's pruning: the upstream's script sees the close and returns.
                #expect(await eventually(timeout: .seconds(5)) { upstream.finishedCount == 1 })
            }
        }
    }

    /// Once the request was sent, a broken exchange is never retried (the upstream may have acted on it).
    @Test func requestIsNotRetriedOnceSent() async throws {
        try await withScriptedUpstream(script: { connection in
            // Reads a request, then hangs up without answering.
            _ = try await connection.readRequest()
        }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("POST /once HTTP/1.1\r\nHost: p.test\r\nContent-Length: 4\r\n\r\npay!")
                let response = try await client.readResponse(method: .post)
                #expect(response.status == 502)
                #expect(response.header("Content-Type") == "application/problem+json")
                try await Task.sleep(for: .milliseconds(100))
                #expect(upstream.requests.count == 1)
                #expect(upstream.acceptedCount == 1)
            }
        }
    }

    /// The upstream's first connection answers one request, then reads the next and hangs up without a byte (the
    /// race between reusing a pooled connection and the upstream closing it). A GET is sent again on a fresh
    /// connection (RFC 9110 §9.2.2, safe methods only); a POST is not: it may have been acted on.
    @Test(arguments: ["GET", "POST"])
    func aReusedConnectionClosedBeforeAnsweringResendsOnlySafeRequests(method: String) async throws {
        let script: @Sendable (ScriptedConnection) async throws -> Void = { connection in
            if connection.index == 0 {
                guard let first = try await connection.readRequest() else { return }
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(first.path.utf8.count)\r\n\r\n\(first.path)")
                _ = try await connection.readRequest()
                return  // closes without answering
            }
            while let request = try await connection.readRequest() {
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)")
            }
        }
        try await withScriptedUpstream(script: script) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                let body = method == "POST" ? "Content-Length: 2\r\n\r\nok" : "\r\n"
                try await client.send("\(method) /one HTTP/1.1\r\nHost: p.test\r\n\(body)")
                #expect(try await client.readResponse().text == "/one")
                try await client.send("\(method) /two HTTP/1.1\r\nHost: p.test\r\n\(body)")
                let second = try await client.readResponse()
                if method == "GET" {
                    #expect(second.status == 200)
                    #expect(second.text == "/two")
                    #expect(upstream.acceptedCount == 2)
                    #expect(upstream.requests.map(\.path) == ["/one", "/two", "/two"])
                } else {
                    #expect(second.status == 502)
                    try await Task.sleep(for: .milliseconds(100))
                    #expect(upstream.requests.map(\.path) == ["/one", "/two"])
                }
            }
        }
    }

    @Test func connectionCloseFromTheUpstreamIsNotPooled() async throws {
        try await withScriptedUpstream(script: { connection in
            guard let request = try await connection.readRequest() else { return }
            try await connection.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)")
            // The gateway must hang up on its side (it may not reuse this connection).
            guard await connection.waitForPeerClose(timeout: .seconds(3)) else { throw PoolTestError.connectionKeptOpen }
        }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                for i in 0..<3 {
                    try await client.send("GET /close/\(i) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                    let response = try await client.readResponse()
                    #expect(response.text == "/close/\(i)")
                    // The client's own connection stays alive: `Connection: close` was hop-by-hop.
                    #expect(response.header("Connection") == nil)
                }
                #expect(upstream.acceptedCount == 3)
                #expect(await eventually { upstream.finishedCount == 3 })
                #expect(upstream.scriptErrors.isEmpty, "\(upstream.scriptErrors)")
            }
        }
    }

    @Test func connectionsIdleLongerThanTheTimeoutAreNotReused() async throws {
        try await withScriptedUpstream(script: Self.keepAlive) { upstream in
            try await withGateway(to: upstream.address, upstream: { $0.idleConnectionTimeout = .milliseconds(100) }) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET /a HTTP/1.1\r\nHost: p.test\r\n\r\n")
                #expect(try await client.readResponse().text == "/a")
                try await Task.sleep(for: .milliseconds(250))
                try await client.send("GET /b HTTP/1.1\r\nHost: p.test\r\n\r\n")
                #expect(try await client.readResponse().text == "/b")
                #expect(upstream.acceptedCount == 2)
                // The stale connection was closed by the gateway, not leaked.
                #expect(await eventually { upstream.finishedCount == 1 })
            }
        }
    }

    /// With `maxIdleConnections` 1, a burst of six connections shrinks to one idle connection per event loop
    /// (the pool is split per loop, each part keeping at least one); the rest are closed, not leaked.
    @Test func idleConnectionsBeyondTheLimitAreClosed() async throws {
        let burst = 6
        let arrivals = Atomic<Int>(0)
        try await withScriptedUpstream(script: { connection in
            while let request = try await connection.readRequest(timeout: .seconds(30)) {
                // Hold the burst's requests until all are in, so each needs a connection of its own.
                if arrivals.add(1, ordering: .relaxed).newValue <= burst {
                    let deadline = ContinuousClock.now + .seconds(5)
                    while arrivals.load(ordering: .relaxed) < burst, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(5))
                    }
                }
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(request.path.utf8.count)\r\n\r\n\(request.path)")
            }
        }) { upstream in
            try await withGateway(to: upstream.address, upstream: { $0.maxIdleConnections = 1 }) { gateway in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<burst {
                        group.addTask {
                            let client = try await gateway.connect()
                            try await client.send("GET /burst/\(lane) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                            #expect(try await client.readResponse().text == "/burst/\(lane)")
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(upstream.acceptedCount == burst)
                let keep = min(burst, Self.loopCount)
                #expect(
                    await eventually { upstream.finishedCount >= burst - keep },
                    "\(burst - upstream.finishedCount) idle connections kept, at most \(keep) expected")
                let client = try await gateway.connect()
                for i in 0..<5 {
                    try await client.send("GET /then/\(i) HTTP/1.1\r\nHost: p.test\r\n\r\n")
                    #expect(try await client.readResponse().text == "/then/\(i)")
                }
                #expect(upstream.acceptedCount <= burst + 1)
            }
        }
    }
}

enum PoolTestError: Error {
    case connectionKeptOpen
}
