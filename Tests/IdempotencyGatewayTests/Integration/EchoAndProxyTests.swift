// The built-in backends: the echo backend (no upstream) and the reverse proxy (upstream.url).
import IdempotencyGateway
import TestSupport
import Testing

@Suite("Gateway: echo backend and reverse proxy")
struct EchoAndProxyTests {
    /// An upstream: a gateway whose idempotency is off (no covered methods), in front of `backend`.
    static func upstreamConfiguration(in directory: ScratchDirectory, port: UInt16 = 0) -> GatewayConfiguration {
        var configuration = GatewayConfiguration.forTesting(in: directory, admin: false)
        configuration.listen.port = port
        configuration.store.path = directory.path("upstream.sqlite")
        configuration.idempotency.methods = []
        return configuration
    }

    @Test("without backend or upstream the echo backend describes the request, and the retry replays it")
    func echoBackend() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withGateway(.forTesting(in: directory)) { gateway in
            let first = try await post(port: gateway.port, key: "echo-1", body: #"{"a":1}"#, path: "/orders?x=1")
            #expect(first.status == 200)
            #expect(first.header("Content-Type") == "application/json")
            let echo = first.json
            #expect(echo["method"] as? String == "POST")
            #expect(echo["path"] as? String == "/orders?x=1")
            #expect(echo["body"] as? String == #"{"a":1}"#)
            let headers = (echo["headers"] as? [[String]]) ?? []
            #expect(headers.contains(["Idempotency-Key", "echo-1"]))
            #expect(headers.contains { $0.first == "X-Request-Id" })

            let retry = try await post(port: gateway.port, key: "echo-1", body: #"{"a":1}"#, path: "/orders?x=1")
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(retry.body == first.body)

            let status = try await post(port: gateway.port, key: "echo-2", headers: [("Echo-Status", "202")])
            #expect(status.status == 202)
        }
    }

    @Test("with upstream.url requests are proxied to the upstream; the retry replays without reaching it")
    func reverseProxy() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let origin = RecordingBackend()
        try await withGateway(Self.upstreamConfiguration(in: directory), backend: origin) { upstream in
            var configuration = GatewayConfiguration.forTesting(in: directory)
            configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(upstream.port)/api")
            try await withGateway(configuration) { gateway in
                let first = try await post(port: gateway.port, key: "proxied", path: "/orders?x=1")
                #expect(first.status == 201)
                #expect(first.header("Location") == "/orders/1")
                #expect(first.header("Set-Cookie") == "session=secret-1; HttpOnly")
                let seen = try #require(origin.requests.first)
                #expect(seen.head.path == "/api/orders?x=1")
                #expect(seen.head.headerFields[HTTPField.Name("Idempotency-Key")!] == "proxied")
                #expect(seen.head.headerFields[HTTPField.Name("X-Forwarded-For")!] == "127.0.0.1")
                #expect(seen.body == Array(#"{"amount":42}"#.utf8))

                let retry = try await post(port: gateway.port, key: "proxied", path: "/orders?x=1")
                #expect(retry.status == 201)
                #expect(retry.header("Idempotent-Replayed") == "true")
                #expect(retry.body == first.body)
                #expect(origin.calls == 1)
            }
        }
    }

    @Test("where a route covers HEAD, the replay of a keyed HEAD carries the Content-Length the upstream sent")
    func keyedHeadReplayKeepsItsContentLength() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let origin = RecordingBackend()
        try await withGateway(Self.upstreamConfiguration(in: directory), backend: origin) { upstream in
            var configuration = GatewayConfiguration.forTesting(in: directory)
            configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(upstream.port)")
            configuration.idempotency.methods = ["POST", "HEAD"]
            try await withGateway(configuration) { gateway in
                let key = [("Idempotency-Key", "head-1")]
                let first = try await send("HEAD", "/orders", port: gateway.port, headers: key)
                #expect(first.status == 201)
                #expect(first.body.isEmpty)
                // The length of the body a GET would have had (RFC 9110 §9.3.2): the backend's body for call 1.
                let length = #"{"order":1,"bytes":0}"#.utf8.count
                #expect(first.header("Content-Length") == "\(length)")

                let retry = try await send("HEAD", "/orders", port: gateway.port, headers: key)
                #expect(retry.status == 201)
                #expect(retry.header("Idempotent-Replayed") == "true")
                #expect(retry.header("Content-Length") == "\(length)")
                #expect(retry.body.isEmpty)
                #expect(origin.calls == 1)

                // A keyed POST's replay still frames its stored body.
                let post1 = try await post(port: gateway.port, key: "post-after-head")
                let post2 = try await post(port: gateway.port, key: "post-after-head")
                #expect(post2.header("Idempotent-Replayed") == "true")
                #expect(post2.header("Content-Length") == "\(post1.body.count)")
                #expect(post2.body == post1.body)
            }
        }
    }

    @Test("an unreachable upstream gives a 502 problem and releases the key; once it is up the retry is forwarded")
    func unreachableUpstreamReleasesTheKey() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let origin = RecordingBackend()
        // A port where nothing listens, held (so no parallel test gets it) until the upstream starts on it.
        var deadPort: DeadPort? = try DeadPort()
        let closedPort = deadPort!.address.port
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(closedPort)")
        configuration.upstream.connectTimeout = .seconds(2)
        try await withGateway(configuration) { gateway in
            let failed = try await post(port: gateway.port, key: "retry-me")
            #expect(failed.status == 502)
            #expect(failed.header("Content-Type") == "application/problem+json")
            #expect((failed.json["type"] as? String)?.hasSuffix("#problem-upstream-unreachable") == true)

            let again = try await post(port: gateway.port, key: "retry-me")
            #expect(again.status == 502)  // released: not 409

            deadPort = nil
            try await withGateway(Self.upstreamConfiguration(in: directory, port: closedPort), backend: origin) { _ in
                let forwarded = try await post(port: gateway.port, key: "retry-me")
                #expect(forwarded.status == 201)
                #expect(forwarded.header("Idempotent-Replayed") == nil)
                #expect(origin.calls == 1)
            }
        }
    }
    /// Through the real reverse proxy: an exchange that breaks after the request went out may have been processed,
    /// so the key is not released (that would run the backend twice): `502`, then `409` until the lease ends.
    @Test("an upstream that hangs up after reading a keyed request gives a 502 and the key stays in flight")
    func brokenAfterTheRequestWasSentKeepsTheKey() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let upstream = try ScriptedUpstream { connection in
            _ = try await connection.readRequest()
            connection.close()
        }
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(upstream.port)")
        try await withGateway(configuration) { gateway in
            let first = try await post(port: gateway.port, key: "hung-up")
            #expect(first.status == 502)
            #expect(first.header("Content-Type") == "application/problem+json")
            let retry = try await post(port: gateway.port, key: "hung-up")
            #expect(retry.status == 409)
            #expect(retry.header("Retry-After") != nil)
            #expect(upstream.requests.count == 1, "never forwarded twice")
        }
        await upstream.stop()
    }

    /// Through the real reverse proxy: past `upstream.timeout` the client gets `504`, but the gateway keeps waiting
    /// until the lease ends; the late answer is stored, and the retry gets it without reaching the upstream again.
    @Test("a keyed request answered after upstream.timeout gets a 504, and the retry gets the late answer replayed")
    func aLateAnswerThroughTheProxyIsStoredAndReplayed() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let upstream = try ScriptedUpstream { connection in
            while try await connection.readRequest() != nil {
                try await Task.sleep(for: .milliseconds(1500))
                try await connection.write("HTTP/1.1 201 Created\r\nContent-Length: 7\r\nX-Late: yes\r\n\r\nlate-ok")
            }
        }
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(upstream.port)")
        configuration.upstream.timeout = .milliseconds(300)
        configuration.idempotency.lease = .seconds(30)
        try await withGateway(configuration) { gateway in
            #expect(try await post(port: gateway.port, key: "late").status == 504)
            // 409 while the gateway still waits for the upstream, then the replay.
            var replay: TestClient.Response?
            let deadline = ContinuousClock.now + .seconds(15)
            while replay == nil, ContinuousClock.now < deadline {
                let retry = try await post(port: gateway.port, key: "late")
                if retry.status == 409 { try await Task.sleep(for: .milliseconds(100)) } else { replay = retry }
            }
            #expect(replay?.status == 201)
            #expect(replay?.header("Idempotent-Replayed") == "true")
            #expect(replay?.header("X-Late") == "yes")
            #expect(replay?.text == "late-ok")
            #expect(upstream.requests.count == 1, "never forwarded twice")
        }
        await upstream.stop()
    }
}
