// Large bodies through the whole gateway: streamed when the engine passes the request through, buffered,
// recorded and replayed when it carries an Idempotency-Key.
import GatewayHTTP
import GatewaySockets
import IdempotencyGateway
import Synchronization
import TestSupport
import Testing

@Suite("Gateway: large bodies, streamed or buffered")
struct GatewayStreamingTests {
    /// An upstream that reports body progress to `progress` and answers every request with `responseSize` bytes
    /// (a `Content-Length` response) whose first line is `<method> <body bytes> <Content-Length or -> <sum>`.
    static func upstream(
        responseSize: Int, progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> @Sendable (ScriptedConnection) async throws -> Void {
        { connection in
            try await serveRequests(on: connection, progress: progress) { head, body in
                let sum = body.reduce(0) { $0 &+ Int($1) }
                let line = "\(head.request.method.rawValue) \(body.count) \(head.request.headerFields[.contentLength] ?? "-") \(sum)\n"
                let filler = [UInt8](repeating: UInt8(ascii: "."), count: max(0, responseSize - line.utf8.count))
                try await connection.write(
                    Array("HTTP/1.1 200 OK\r\nContent-Length: \(line.utf8.count + filler.count)\r\n\r\n\(line)".utf8) + filler)
            }
        }
    }

    static func configuration(in directory: ScratchDirectory, upstream: UInt16) -> GatewayConfiguration {
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(upstream)")
        configuration.server.maxBodyBytes = 16 << 20
        return configuration
    }

    static func bytes(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) } }

    @Test("a passthrough PUT streams its body to the upstream while the client still sends, and the large answer back")
    func passthroughStreams() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let size = 4 << 20
        let payload = Self.bytes(size)
        let received = Atomic<Int>(0)
        let upstream = try ScriptedUpstream(
            script: Self.upstream(responseSize: 2 << 20) { received.store($0, ordering: .relaxed) })
        try await withGateway(Self.configuration(in: directory, upstream: upstream.port)) { gateway in
            let client = try await TestClient.connect(port: gateway.port)
            try await client.send("PUT /files/1 HTTP/1.1\r\nHost: g.test\r\nContent-Length: \(size)\r\n\r\n")
            try await client.send(Array(payload[..<(1 << 20)]))
            let arrivedEarly = await eventually(timeout: .seconds(10)) { received.load(ordering: .relaxed) >= 1 << 20 }
            #expect(arrivedEarly, "the upstream saw \(received.load(ordering: .relaxed)) bytes")
            try await client.send(Array(payload[(1 << 20)...]))
            let response = try await client.readResponse(method: .put, timeout: .seconds(30))
            #expect(response.status == 200)
            #expect(response.body.count == 2 << 20)
            #expect(response.text.hasPrefix("PUT \(size) \(size) \(payload.reduce(0) { $0 &+ Int($1) })\n"))
            #expect(response.header("X-Request-Id") != nil, "the access log's handler still answers")
        }
        await upstream.stop()
    }

    @Test("a keyed upload the upstream stops reading ends after upstream.timeout of stall, not at the lease's end")
    func aStalledKeyedUploadEndsAfterTheUpstreamTimeout() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        // Accepts and never reads: the 8 MiB body fills the socket buffers and the gateway's write stalls.
        let upstream = try ScriptedUpstream { _ in try? await Task.sleep(for: .seconds(30)) }
        var configuration = Self.configuration(in: directory, upstream: upstream.port)
        configuration.upstream.timeout = .milliseconds(500)
        configuration.idempotency.lease = .seconds(60)
        try await withGateway(configuration) { gateway in
            let size = 8 << 20
            let head = "POST /orders HTTP/1.1\r\nHost: g.test\r\nIdempotency-Key: stalled\r\nContent-Length: \(size)\r\n\r\n"
            let client = try await TestClient.connect(port: gateway.port)
            try await client.send(Array(head.utf8) + [UInt8](repeating: 0x61, count: size))
            #expect(try await client.readResponse(method: .post, timeout: .seconds(30)).status == 504)
            // The exchange gives up (stall, then a second for an early answer), well before the 60 s lease.
            #expect(await eventually(timeout: .seconds(15)) { gateway.engine.inFlightCount == 0 })
            // Part of the request went out: the key stays in flight until its lease ends (never forwarded twice).
            let retry = try await TestClient.connect(port: gateway.port)
            try await retry.send(Array(head.utf8) + [UInt8](repeating: 0x61, count: size))
            #expect(try await retry.readResponse(method: .post, timeout: .seconds(30)).status == 409)
            #expect(upstream.acceptedCount == 1)
        }
        await upstream.stop()
    }

    /// A large keyed response is streamed; a client that goes away mid-stream stops it (the upstream connection is
    /// closed, not read to its end), and the record, stored before the stream began, replays without its body.
    @Test("a client that leaves a large keyed response mid-stream closes its upstream connection; the retry replays")
    func aClientLeavingALargeKeyedResponseClosesItsUpstream() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let size = 16 << 20
        let upstream = try ScriptedUpstream { connection in
            guard try await connection.readRequest(timeout: .seconds(20)) != nil else { return }
            try await connection.write("HTTP/1.1 201 Created\r\nContent-Length: \(size)\r\n\r\n")
            // In pieces over 12.8 s, past the 10 s the test waits: the script ends in time only when the gateway
            // closes the connection.
            let piece = [UInt8](repeating: 0x62, count: 256 << 10)
            for _ in 0..<(size / piece.count) {
                try await connection.write(piece)
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        try await withGateway(Self.configuration(in: directory, upstream: upstream.port)) { gateway in
            let client = try await TestClient.connect(port: gateway.port)
            try await client.send("POST /orders HTTP/1.1\r\nHost: g.test\r\nIdempotency-Key: big-down\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\nx")
            try await client.discard(atLeast: 1 << 20, timeout: .seconds(20))
            client.close()
            // The upstream's script ends early (its writes fail) once the gateway closes the connection.
            #expect(await eventually(timeout: .seconds(10)) { upstream.finishedCount == 1 })
            let retry = try await post(port: gateway.port, key: "big-down", body: "x")
            #expect(retry.status == 201)
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(retry.header("Idempotent-Replay-Body") == "omitted")
            #expect(upstream.acceptedCount == 1)
        }
        await upstream.stop()
    }

    @Test("a keyed POST with a large body is buffered, fingerprinted, recorded and replayed")
    func keyedLargeBodyIsBuffered() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let size = 1 << 20
        let payload = Self.bytes(size)
        let received = Atomic<Int>(0)
        let upstream = try ScriptedUpstream(
            script: Self.upstream(responseSize: 1 << 20) { received.store($0, ordering: .relaxed) })
        try await withGateway(Self.configuration(in: directory, upstream: upstream.port)) { gateway in
            let head = "POST /orders HTTP/1.1\r\nHost: g.test\r\nIdempotency-Key: big-1\r\nContent-Length: \(size)\r\n\r\n"
            let client = try await TestClient.connect(port: gateway.port)
            try await client.send(head)
            try await client.send(Array(payload[..<(size / 2)]))
            try await Task.sleep(for: .milliseconds(300))
            // Nothing reaches the upstream before the key is claimed, which needs the whole body's fingerprint.
            #expect(received.load(ordering: .relaxed) == 0)
            try await client.send(Array(payload[(size / 2)...]))
            let first = try await client.readResponse(method: .post, timeout: .seconds(30))
            #expect(first.status == 200)
            #expect(first.body.count == 1 << 20)
            #expect(first.text.hasPrefix("POST \(size) \(size) "))

            let retry = try await TestClient.connect(port: gateway.port)
            try await retry.send(Array(head.utf8) + payload)
            let replay = try await retry.readResponse(method: .post, timeout: .seconds(30))
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(replay.body == first.body)

            // One byte different: the fingerprint covers the whole body.
            var other = payload
            other[size - 1] ^= 0xFF
            try await retry.send(Array(head.utf8) + other)
            #expect(try await retry.readResponse(method: .post, timeout: .seconds(30)).status == 422)
            #expect(upstream.acceptedCount == 1)
        }
        await upstream.stop()
    }

    /// RFC 9112 §9.5 under a key: an upstream that answers before it read the whole (buffered) body and then closes
    /// or stops reading has answered. The client gets that answer, a 4xx is recorded like any other, and the retry
    /// replays it. (A write failure used to end the exchange as a 502 with the key held until its lease ended.)
    @Test("a keyed request's early upstream answer is relayed, recorded and replayed", arguments: [false, true])
    func keyedEarlyAnswerIsRecorded(upstreamStaysOpen: Bool) async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let size = 8 << 20
        let upstream = try ScriptedUpstream { connection in
            var head: [UInt8] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while head.firstRange(of: Array("\r\n\r\n".utf8)) == nil {
                _ = try await connection.socket.read(deadline: deadline) { head.append(contentsOf: $0) }
            }
            let body = #"{"error":"too large"}"#
            try await connection.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            if upstreamStaysOpen { try? await Task.sleep(for: .seconds(9)) }
            connection.close()
        }
        try await withGateway(Self.configuration(in: directory, upstream: upstream.port)) { gateway in
            let request = Array("POST /uploads HTTP/1.1\r\nHost: g.test\r\nIdempotency-Key: early-1\r\nContent-Length: \(size)\r\n\r\n".utf8) + Self.bytes(size)
            let client = try await TestClient.connect(port: gateway.port)
            let start = ContinuousClock.now
            try await client.send(request)
            let first = try await client.readResponse(method: .post, timeout: .seconds(30))
            #expect(first.status == 413)
            #expect(first.text == #"{"error":"too large"}"#)
            #expect(ContinuousClock.now - start < .seconds(7))

            try await client.send(request)
            let replay = try await client.readResponse(method: .post, timeout: .seconds(30))
            #expect(replay.status == 413)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(upstream.acceptedCount == 1)
        }
        await upstream.stop()
    }

    /// A keyed request's response over `idempotency.max-stored-response-bytes` is streamed to its client, not held
    /// whole (so `upstream.max-response-body-bytes` does not bound it either), and recorded without its body.
    @Test("a keyed request's large response is streamed to the client and recorded without its body", arguments: [false, true])
    func keyedLargeResponseIsStreamed(chunked: Bool) async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let size = 8 << 20
        let payload = Self.bytes(size)
        let upstream = try ScriptedUpstream { connection in
            while try await connection.readRequest() != nil {
                if chunked {
                    try await connection.write("HTTP/1.1 201 Created\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                    for start in stride(from: 0, to: size, by: 1 << 20) {
                        try await connection.write(Array("100000\r\n".utf8) + Array(payload[start..<(start + (1 << 20))]) + Array("\r\n".utf8))
                    }
                    try await connection.write("0\r\n\r\n")
                } else {
                    try await connection.write(
                        Array("HTTP/1.1 201 Created\r\nContent-Type: application/octet-stream\r\nContent-Length: \(size)\r\n\r\n".utf8) + payload)
                }
            }
        }
        var configuration = Self.configuration(in: directory, upstream: upstream.port)
        configuration.idempotency.maxStoredResponseBytes = 1 << 20
        configuration.upstream.maxResponseBodyBytes = 2 << 20  // held whole, it would not fit
        try await withGateway(configuration) { (gateway: Gateway) async throws in
            let head = "POST /exports HTTP/1.1\r\nHost: g.test\r\nIdempotency-Key: export-1\r\nContent-Length: 2\r\n\r\n{}"
            let client = try await TestClient.connect(port: gateway.port)
            try await client.send(head)
            let first = try await client.readResponse(method: .post, timeout: .seconds(30))
            #expect(first.status == 201)
            #expect(first.body == payload)
            #expect(first.header("Content-Type") == "application/octet-stream")

            try await client.send(head)
            let replay = try await client.readResponse(method: .post, timeout: .seconds(30))
            #expect(replay.status == 201)
            #expect(replay.body.isEmpty)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(replay.header("Idempotent-Replay-Body") == "omitted")
            #expect(upstream.requests.count == 1)
        }
        await upstream.stop()
    }

    /// Keyed response bodies held to be stored share `idempotency.max-buffered-response-bytes`: while the start of
    /// one is held (its upstream stalls), another that would go past the budget reaches its client whole, as a
    /// stream, and is stored without its body; the first is stored whole once it ends, and the budget empties.
    @Test("keyed responses share max-buffered-response-bytes: one past it is streamed whole, stored without its body")
    func keyedResponsesShareTheResponseBudget() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let piece = Self.bytes(600 << 10)
        let chunk = Array(String(piece.count, radix: 16).utf8) + Array("\r\n".utf8) + piece + Array("\r\n".utf8)
        let secondAnswered = TestGate()
        let upstream = try ScriptedUpstream { connection in
            while let request = try await connection.readRequest() {
                try await connection.write(
                    "HTTP/1.1 201 Created\r\nContent-Type: application/octet-stream\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n")
                try await connection.write(chunk)
                // The first response stalls after its first piece until the second has been answered.
                if request.path == "/first" { await secondAnswered.wait() }
                try await connection.write("0\r\n\r\n")
            }
        }
        var configuration = Self.configuration(in: directory, upstream: upstream.port)
        configuration.idempotency.maxStoredResponseBytes = 1 << 20
        configuration.idempotency.maxBufferedResponseBytes = 1 << 20
        try await withGateway(configuration) { (gateway: Gateway) async throws in
            let budget = gateway.engine.responseBudget
            // A keyed POST of `{}` to `path`, whose key is the path's name.
            let post = { (path: String) in
                try await send(
                    "POST", path, port: gateway.port, headers: [("Idempotency-Key", String(path.dropFirst()))], body: "{}")
            }
            let firstClient = try await TestClient.connect(port: gateway.port)
            defer { firstClient.close() }
            try await firstClient.send(
                "POST /first HTTP/1.1\r\nHost: g.test\r\nIdempotency-Key: first\r\nContent-Length: 2\r\n\r\n{}")
            // The start of the first response is held, and counted, while its upstream stalls.
            #expect(await eventually { budget.inUse >= piece.count })

            let second = try await post("/second")
            #expect(second.status == 201)
            #expect(second.body == piece)
            #expect(budget.refusals == 1)
            secondAnswered.open()
            let first = try await firstClient.readResponse(method: .post, timeout: .seconds(30))
            #expect(first.status == 201)
            #expect(first.body == piece)

            let firstReplay = try await post("/first")
            #expect(firstReplay.header("Idempotent-Replayed") == "true")
            #expect(firstReplay.body == piece)
            let secondReplay = try await post("/second")
            #expect(secondReplay.header("Idempotent-Replayed") == "true")
            #expect(secondReplay.header("Idempotent-Replay-Body") == "omitted")
            #expect(secondReplay.body.isEmpty)
            #expect(upstream.requests.count == 2)
            #expect(await eventually { budget.inUse == 0 })
        }
        await upstream.stop()
    }
}
