// What reaches the backend, what its errors do to the key, expiry, scopes and request limits.
import IdempotencyGateway
import TestSupport
import Testing

@Suite("Gateway: backend outcomes, headers, expiry, scopes, limits")
struct BackendOutcomeTests {
    /// A backend answering `500` on its first call and `201` afterwards.
    static func failingOnce() -> RecordingBackend {
        RecordingBackend { request, call in
            call == 1
                ? GatewayResponse(status: .internalServerError, body: Array("boom".utf8))
                : RecordingBackend.created(request, call)
        }
    }

    @Test("a backend 500 releases the key: the retry is forwarded again")
    func serverErrorReleasesTheKey() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = Self.failingOnce()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let first = try await post(port: gateway.port, key: "flaky")
            #expect(first.status == 500)
            #expect(first.text == "boom")
            let retry = try await post(port: gateway.port, key: "flaky")
            #expect(retry.status == 201)
            #expect(retry.header("Idempotent-Replayed") == nil)
            #expect(backend.calls == 2)
        }
    }

    @Test("with store-5xx a backend 500 is stored and replayed")
    func serverErrorStoredWhenConfigured() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = Self.failingOnce()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.idempotency.store5xx = true
        try await withGateway(configuration, backend: backend) { gateway in
            #expect(try await post(port: gateway.port, key: "flaky").status == 500)
            let retry = try await post(port: gateway.port, key: "flaky")
            #expect(retry.status == 500)
            #expect(retry.text == "boom")
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(backend.calls == 1)
        }
    }

    @Test("X-Request-Id is generated when absent, kept when given, and forwarded to the backend")
    func requestID() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let generated = try await post(port: gateway.port, key: "rid-1")
            let id = try #require(generated.header("X-Request-Id"))
            #expect(id.count == 16 && id.allSatisfy(\.isHexDigit))
            #expect(backend.requests[0].head.headerFields[HTTPField.Name("X-Request-Id")!] == id)

            let given = try await post(port: gateway.port, key: "rid-2", headers: [("X-Request-Id", "client-req-77")])
            #expect(given.header("X-Request-Id") == "client-req-77")
            #expect(backend.requests[1].head.headerFields[HTTPField.Name("X-Request-Id")!] == "client-req-77")

            // A replay carries the id of the request it answers, not the stored one.
            let replay = try await post(port: gateway.port, key: "rid-2", headers: [("X-Request-Id", "client-req-78")])
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(replay.header("X-Request-Id") == "client-req-78")

            let unwieldy = try await post(port: gateway.port, key: "rid-3", headers: [("X-Request-Id", "has space")])
            #expect(unwieldy.header("X-Request-Id") != "has space")
            #expect(unwieldy.header("X-Request-Id")?.count == 16)
            // The backend sees the replacement, once, not the client's value.
            #expect(
                backend.requests[2].head.headerFields[values: HTTPField.Name("X-Request-Id")!] == [
                    try #require(unwieldy.header("X-Request-Id"))
                ])
        }
    }

    @Test("the Idempotency-Key header reaches the backend exactly as the client sent it")
    func keyForwardedUnchanged() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            #expect(try await post(port: gateway.port, key: #""8e03978e-40d5-43e8""#).status == 201)
            #expect(try await post(port: gateway.port, key: "bare-token_1.2").status == 201)
            let seen = backend.requests.map { $0.head.headerFields[HTTPField.Name("Idempotency-Key")!] }
            #expect(seen == [#""8e03978e-40d5-43e8""#, "bare-token_1.2"])
            #expect(backend.requests[0].body == Array(#"{"amount":42}"#.utf8))
            #expect(backend.requests[0].head.path == "/orders")
            // The sf-string and the bare form name the same key.
            let replay = try await post(port: gateway.port, key: "8e03978e-40d5-43e8")
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(backend.calls == 2)
        }
    }

    @Test("after key-ttl a completed key is forgotten and the same key is forwarded again")
    func expiry() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        // Long enough that the replay below comes well within it even on a loaded machine running the suite in
        // parallel (1 s was not).
        let ttl = Duration.seconds(3)
        configuration.idempotency.keyTTL = ttl
        try await withGateway(configuration, backend: backend) { gateway in
            #expect(try await post(port: gateway.port, key: "short-lived").status == 201)
            let stored = ContinuousClock.now  // the record's TTL counts from a moment before this
            let replay = try await post(port: gateway.port, key: "short-lived")
            // Only a replay that surely came within the TTL must be one (a loaded machine can delay it past it).
            if ContinuousClock.now - stored < ttl - .milliseconds(500) {
                #expect(replay.header("Idempotent-Replayed") == "true")
            }
            try await Task.sleep(until: stored + ttl + .milliseconds(100))
            let later = try await post(port: gateway.port, key: "short-lived")
            #expect(later.status == 201)
            #expect(later.header("Idempotent-Replayed") == nil)
            #expect(later.header("Location") == "/orders/\(backend.calls)")
            #expect(backend.calls == (replay.header("Idempotent-Replayed") == "true" ? 2 : 3))
        }
    }

    @Test("the same key under another Authorization is another record (scopes)")
    func scopes() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let alice = [("Authorization", "Bearer alice")], bob = [("Authorization", "Bearer bob")]
            let forAlice = try await post(port: gateway.port, key: "shared-key", headers: alice)
            let forBob = try await post(port: gateway.port, key: "shared-key", headers: bob)
            #expect(forAlice.header("Location") == "/orders/1")
            #expect(forBob.header("Location") == "/orders/2")
            #expect(forBob.header("Idempotent-Replayed") == nil)
            #expect(backend.calls == 2)

            let aliceAgain = try await post(port: gateway.port, key: "shared-key", headers: alice)
            #expect(aliceAgain.header("Idempotent-Replayed") == "true")
            #expect(aliceAgain.body == forAlice.body)
            let bobAgain = try await post(port: gateway.port, key: "shared-key", headers: bob)
            #expect(bobAgain.body == forBob.body)
            #expect(backend.calls == 2)
        }
    }

    @Test("a request body over server.max-body-bytes gets 413 and never reaches the backend")
    func bodyTooLarge() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.server.maxBodyBytes = 1024
        try await withGateway(configuration, backend: backend) { gateway in
            let large = try await post(port: gateway.port, key: "big", body: String(repeating: "a", count: 2048))
            #expect(large.status == 413)
            #expect(large.header("Content-Type") == "application/problem+json")
            let fits = try await post(port: gateway.port, key: "big", body: String(repeating: "a", count: 1024))
            #expect(fits.status == 201)
            #expect(backend.calls == 1)
            #expect(backend.requests[0].body.count == 1024)
        }
    }

    @Test("a backend slower than upstream.timeout: 504, the key stays in flight, and its late answer is replayed")
    func lateAnswerIsStored() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        backend.hold()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.upstream.timeout = .milliseconds(300)
        try await withGateway(configuration, backend: backend) { gateway in
            let timedOut = try await post(port: gateway.port, key: "slow")
            #expect(timedOut.status == 504)
            #expect((timedOut.json["type"] as? String)?.hasSuffix("#problem-upstream-timeout") == true)
            #expect(try await post(port: gateway.port, key: "slow").status == 409)

            backend.release()
            var retry = try await post(port: gateway.port, key: "slow")
            let deadline = ContinuousClock.now + .seconds(5)
            while retry.status == 409, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                retry = try await post(port: gateway.port, key: "slow")
            }
            #expect(retry.status == 201)
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(backend.calls == 1)
        }
    }

    /// The exchange of a key outlives its client's 504, and so does its request's body in memory: it counts against
    /// server.max-buffered-body-bytes until the exchange ends.
    @Test("a keyed body still counts against the buffered-body budget after its client's 504")
    func bodyCountsUntilTheExchangeEnds() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let gate = TestGate()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.upstream.timeout = .milliseconds(300)
        let body = String(repeating: "b", count: 1000)
        let backend = ClosureHandler { _ in
            await gate.wait()
            return GatewayResponse(status: .created)
        }
        try await withGateway(configuration, backend: backend) { (gateway: Gateway) async throws in
            #expect(try await post(port: gateway.port, key: "held", body: body).status == 504)
            #expect(gateway.bufferedBodyBytes == 1000)
            gate.open()
            #expect(await eventually { gateway.bufferedBodyBytes == 0 })
            #expect(try await post(port: gateway.port, key: "held", body: body).header("Idempotent-Replayed") == "true")
        }
    }

    @Test("a response over max-stored-response-bytes reaches its client; the retry gets status and headers only")
    func oversizedResponse() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let large = String(repeating: "z", count: 4096)
        let backend = RecordingBackend { _, _ in
            var fields = HTTPFields()
            fields[.contentType] = "text/plain"
            fields[.location] = "/reports/1"
            return GatewayResponse(status: .created, headerFields: fields, body: Array(large.utf8))
        }
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.idempotency.maxStoredResponseBytes = 1024
        try await withGateway(configuration, backend: backend) { gateway in
            let first = try await post(port: gateway.port, key: "report")
            #expect(first.text == large)
            let retry = try await post(port: gateway.port, key: "report")
            #expect(retry.status == 201)
            #expect(retry.body.isEmpty)
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(retry.header("Idempotent-Replay-Body") == "omitted")
            #expect(retry.header("Location") == "/reports/1")
            #expect(retry.header("Content-Type") == nil)
            #expect(backend.calls == 1)
        }
    }

    @Test("a route's own lease (idempotency.routes[].lease) governs its in-flight keys")
    func routeLease() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        backend.hold()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.idempotency.lease = .seconds(60)
        configuration.idempotency.routes = [.init(pathPrefix: "/quick", lease: .seconds(2))]
        try await withGateway(configuration, backend: backend) { gateway in
            defer { backend.release() }
            let original = Task { try await post(port: gateway.port, key: "route-lease", path: "/quick/jobs") }
            #expect(await eventually(timeout: .seconds(20)) { backend.calls == 1 })
            let conflict = try await post(port: gateway.port, key: "route-lease", path: "/quick/jobs")
            #expect(conflict.status == 409)
            #expect(conflict.header("Retry-After").flatMap { Int($0) }.map { $0 <= 2 } == true)
            let record = try await admin("/keys/route-lease", gateway: gateway)
            #expect(record.json["state"] as? String == "in_flight")
            backend.release()
            _ = try? await original.value
        }
    }
    /// What a replay carries besides the stored fields: no hop-by-hop field an in-process handler sent (RFC 9110
    /// §7.6.1), the handler's own `Date` when it sent one (the time the response was made) and a fresh one when it
    /// did not, and the retry's own `X-Request-Id` in place of one the handler put in its response.
    @Test("a replay drops a handler's hop-by-hop fields, keeps its Date or adds one, and carries the retry's request id")
    func replayedFieldsFromAnInProcessHandler() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = ClosureHandler { request in
            var fields = HTTPFields()
            fields[HTTPField.Name("Keep-Alive")!] = "timeout=5"
            fields[.upgrade] = "h2c"
            fields[HTTPField.Name("Proxy-Status")!] = "origin"
            fields[HTTPField.Name("X-Kept")!] = "yes"
            fields[HTTPField.Name("X-Request-Id")!] = "backend-id"
            if request.head.path == "/dated" { fields[.date] = "Tue, 01 Jan 2030 00:00:00 GMT" }
            return GatewayResponse(status: .created, headerFields: fields, body: Array("made".utf8))
        }
        try await withGateway(.forTesting(in: directory), backend: backend) { (gateway: Gateway) async throws in
            for path in ["/dated", "/undated"] {
                _ = try await post(port: gateway.port, key: "fields\(path)", path: path)
                let replay = try await post(
                    port: gateway.port, key: "fields\(path)", path: path, headers: [("X-Request-Id", "retry-1")])
                #expect(replay.header("Idempotent-Replayed") == "true")
                #expect(replay.header("X-Kept") == "yes")
                #expect(replay.text == "made")
                for hopByHop in ["Keep-Alive", "Upgrade", "Proxy-Status"] {
                    #expect(replay.header(hopByHop) == nil, "\(hopByHop) on \(path)")
                }
                #expect(replay.header("X-Request-Id") == "retry-1")
                if path == "/dated" {
                    #expect(replay.header("Date") == "Tue, 01 Jan 2030 00:00:00 GMT")
                } else {
                    #expect(replay.header("Date")?.hasSuffix(" GMT") == true)
                }
            }
        }
    }
}
