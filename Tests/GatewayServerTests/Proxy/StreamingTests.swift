import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Synchronization
import Testing
import TestSupport

/// Large bodies go through the reverse proxy as they arrive, in both directions, with correct framing, limits
/// and clean-up.
@Suite("Reverse proxy: streamed bodies")
struct ProxyStreamingTests {
    /// An upstream script that reads one request at a time (reporting body progress to `progress`) and answers
    /// `<body bytes> <fnv> <Content-Length or -> <Transfer-Encoding or ->`.
    static func describing(
        progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> @Sendable (ScriptedConnection) async throws -> Void {
        { connection in
            try await serveRequests(on: connection, progress: progress) { head, body in
                let fields = head.request.headerFields
                let reply =
                    "\(body.count) \(fnv1a(body)) \(fields[.contentLength] ?? "-") \(fields[.transferEncoding] ?? "-")"
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(reply.utf8.count)\r\n\r\n\(reply)")
            }
        }
    }

    @Test func requestBodyReachesTheUpstreamWhileTheClientStillSends() async throws {
        let size = 8 << 20
        let firstPart = 1 << 20
        let payload = patternBytes(size)
        let expected = await fnv1aOffPool(payload)
        let received = Atomic<Int>(0)
        try await withScriptedUpstream(script: Self.describing { received.store($0, ordering: .relaxed) }) { upstream in
            try await withGateway(to: upstream.address, server: { $0.limits.maxBodySize = 16 << 20 }) { gateway in
                let client = try await gateway.connect()
                try await client.send("PUT /blob HTTP/1.1\r\nHost: s.test\r\nContent-Length: \(size)\r\n\r\n")
                try await client.send(Array(payload[..<firstPart]))
                // A buffering gateway would hold these bytes until the whole body is in: the upstream would see none.
                let arrivedEarly = await eventually(timeout: .seconds(10)) { received.load(ordering: .relaxed) >= firstPart }
                #expect(arrivedEarly, "the upstream saw \(received.load(ordering: .relaxed)) bytes")
                try await client.send(Array(payload[firstPart...]))
                let response = try await client.readResponse(method: .put, timeout: .seconds(30))
                #expect(response.status == 200)
                #expect(response.text == "\(size) \(expected) \(size) -")
            }
        }
    }

    @Test func responseBodyReachesTheClientWhileTheUpstreamStillSends() async throws {
        let size = 8 << 20
        let firstPart = 1 << 20
        let payload = patternBytes(size)
        let expected = await fnv1aOffPool(payload)
        let gate = TestGate()
        let gaveUpWaiting = Flag()
        try await withScriptedUpstream(script: { connection in
            guard try await connection.readRequest() != nil else { return }
            try await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8) + payload[..<firstPart])
            await gate.wait()
            try await connection.write(Array(payload[firstPart...]))
            _ = try await connection.readRequest(timeout: .seconds(20))
        }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                // A buffering gateway never sends a byte before the upstream's last: open the gate anyway after a while.
                let fallback = Task {
                    try? await Task.sleep(for: .seconds(10))
                    if Task.isCancelled { return }
                    gaveUpWaiting.set()
                    gate.open()
                }
                try await client.send("GET /big HTTP/1.1\r\nHost: s.test\r\n\r\n")
                let (head, body) = try await readResponse(on: client.socket, timeout: .seconds(30)) { count in
                    if count >= firstPart { gate.open() }
                }
                fallback.cancel()
                let late = gaveUpWaiting.isSet
                #expect(!late, "the first bytes did not arrive before the rest was sent")
                #expect(head.response.status.code == 200)
                #expect(head.response.headerFields[.contentLength] == "\(size)")
                #expect(body.count == size)
                #expect(await fnv1aOffPool(body) == expected)
            }
        }
    }

    @Test func chunkedRequestBodyIsStreamedChunked() async throws {
        let pieces = (0..<16).map { index in patternBytes(64 << 10).map { $0 ^ UInt8(index) } }
        let payload = pieces.flatMap { $0 }
        var message = Array("POST /upload HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for piece in pieces { HTTPEncoder.encodeChunk(piece, into: &message) }
        HTTPEncoder.encodeLastChunk(into: &message)
        try await withScriptedUpstream(script: Self.describing()) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send(message)
                let response = try await client.readResponse(method: .post)
                #expect(response.text == "\(payload.count) \(fnv1a(payload)) - chunked")
                // A small chunked body is still buffered and sent on with a length.
                try await client.send("POST /small HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                #expect(try await client.readResponse(method: .post).text == "3 \(fnv1a(Array("abc".utf8))) 3 -")
            }
        }
    }

    enum UpstreamFraming: String, CaseIterable, Sendable { case chunked, closeDelimited }

    @Test(arguments: UpstreamFraming.allCases)
    func unknownLengthResponseIsReframedForEachClientVersion(framing: UpstreamFraming) async throws {
        let payload = patternBytes(1 << 20)
        let expected = fnv1a(payload)
        try await withScriptedUpstream(script: { connection in
            while try await connection.readRequest(timeout: .seconds(20)) != nil {
                switch framing {
                case .chunked:
                    var reply = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                    for start in stride(from: 0, to: payload.count, by: 100_000) {
                        HTTPEncoder.encodeChunk(payload[start..<min(start + 100_000, payload.count)], into: &reply)
                    }
                    HTTPEncoder.encodeLastChunk(into: &reply)
                    try await connection.write(reply)
                case .closeDelimited:
                    try await connection.write(Array("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".utf8) + payload)
                    return  // closing ends the body (RFC 9112 §6.3 rule 8)
                }
            }
        }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                // HTTP/1.1: chunked, and the connection stays usable.
                let client = try await gateway.connect()
                for _ in 0..<2 {
                    try await client.send("GET /unknown HTTP/1.1\r\nHost: s.test\r\n\r\n")
                    let (head, body) = try await readResponse(on: client.socket)
                    #expect(head.response.headerFields[.transferEncoding] == "chunked")
                    #expect(head.response.headerFields[.contentLength] == nil)
                    #expect(head.keepAlive)
                    #expect(body.count == payload.count)
                    #expect(fnv1a(body) == expected)
                }
                // HTTP/1.0: close-delimited.
                let old = try await gateway.connect()
                try await old.send("GET /unknown HTTP/1.0\r\nHost: s.test\r\nConnection: keep-alive\r\n\r\n")
                let raw = try await old.readUntilClose(timeout: .seconds(20))
                let split = try #require(raw.firstRange(of: Array("\r\n\r\n".utf8)))
                let headText = String(decoding: raw[..<split.lowerBound], as: UTF8.self).lowercased()
                #expect(headText.hasPrefix("http/1.0 200"))
                #expect(headText.contains("connection: close"))
                #expect(!headText.contains("content-length"))
                #expect(!headText.contains("transfer-encoding"))
                #expect(fnv1a(Array(raw[split.upperBound...])) == expected)
            }
        }
    }

    @Test func chunkedBodyOverTheLimitGets413AndTheUpstreamNeverSeesItComplete() async throws {
        let upstreamSaw = Mutex<String?>(nil)
        let message: [UInt8] = {
            var message = Array("PUT /too-big HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            for _ in 0..<8 { HTTPEncoder.encodeChunk(patternBytes(64 << 10), into: &message) }
            HTTPEncoder.encodeLastChunk(into: &message)
            return message
        }()
        try await withScriptedUpstream(script: { connection in
            do {
                let request = try await connection.readRequest(timeout: .seconds(20))
                upstreamSaw.withLock { $0 = request == nil ? "nothing" : "complete" }
            } catch {
                upstreamSaw.withLock { $0 = "incomplete" }
            }
        }) { upstream in
            try await withGateway(to: upstream.address, server: { $0.limits.maxBodySize = 256 << 10 }) { gateway in
                let client = try await gateway.connect()
                async let sent: Void = client.send(message)
                let response = try await client.readResponse(method: .put)
                _ = try? await sent
                #expect(response.status == 413)
                #expect(response.header("Connection") == "close")
                #expect(await client.isClosedByPeer(within: .seconds(5)))
                #expect(await eventually(timeout: .seconds(10)) { upstreamSaw.withLock { $0 } != nil })
                #expect(upstreamSaw.withLock { $0 } == "incomplete")
            }
        }
    }

    /// What an upstream does after it answered early.
    enum AfterEarlyAnswer: String, CaseIterable, Sendable {
        case close, reset
        /// Keeps the connection open without reading: the gateway's upload stalls, and within a second it sees the
        /// complete answer waiting and reads it (long before `upstream.timeout`, 10 s here).
        case stayOpenWithoutReading
    }

    /// Reads a request head (the body stays in the socket, except what arrived in the same read); returns how many
    /// body bytes that read already took.
    @discardableResult
    static func readHeadOnly(_ connection: ScriptedConnection) async throws -> Int {
        var head: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            if let end = head.firstRange(of: Array("\r\n\r\n".utf8)) { return head.count - end.upperBound }
            guard head.count < 8192 else { return 0 }
            _ = try await connection.socket.read(deadline: deadline) { head.append(contentsOf: $0) }
        }
    }

    /// RFC 9112 §9.5: an upstream may answer before it read the whole body (here a 413 after the head), then stop
    /// reading or close. The client gets that answer, not a 502. Alike whether the body is streamed to the upstream
    /// as it arrives or buffered first (as a keyed request's always is). A streamed body was not all read from the
    /// client, so its connection closes; a buffered one was, and the connection stays open.
    @Test(arguments: AfterEarlyAnswer.allCases, [true, false])
    func anEarlyUpstreamAnswerReachesTheClient(after: AfterEarlyAnswer, streamed: Bool) async throws {
        let size = 16 << 20
        try await withScriptedUpstream(script: { connection in
            try await Self.readHeadOnly(connection)
            let body = "too large for this endpoint"
            let close = after == .stayOpenWithoutReading ? "" : "Connection: close\r\n"
            try await connection.write(
                "HTTP/1.1 413 Content Too Large\r\n\(close)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            switch after {
            case .close: connection.close()
            case .reset: connection.reset()
            case .stayOpenWithoutReading:
                // Longer than the answer may take to reach the client (7 s on a loaded machine; about 1 s here).
                try? await Task.sleep(for: .seconds(9))
                connection.close()
            }
        }) { upstream in
            try await withGateway(
                to: upstream.address, upstream: { $0.responseTimeout = .seconds(10) },
                server: {
                    $0.limits.maxBodySize = 32 << 20
                    if !streamed { $0.streamBodiesOver = 32 << 20 }
                }
            ) { gateway in
                let client = try await gateway.connect()
                let start = ContinuousClock.now
                try await client.send("PUT /upload HTTP/1.1\r\nHost: s.test\r\nContent-Length: \(size)\r\n\r\n")
                async let sent: Void = client.send(patternBytes(size))
                let response = try await client.readResponse(method: .put, timeout: .seconds(30))
                let elapsed = ContinuousClock.now - start
                _ = try? await sent
                if after == .reset {
                    // A reset may destroy the answer before the gateway read it: then 502, never a hang.
                    #expect(response.status == 413 || response.status == 502)
                } else {
                    #expect(response.status == 413)
                    #expect(response.text == "too large for this endpoint")
                }
                #expect(elapsed < .seconds(7), "the answer took \(elapsed)")
                if streamed {
                    #expect(response.header("Connection") == "close")
                    #expect(await client.isClosedByPeer(within: .seconds(10)))
                } else {
                    #expect(response.header("Connection") == nil)
                    try await client.send("GET /next HTTP/1.1\r\nHost: s.test\r\n\r\n")
                    // The same client connection carries the next request (the upstream answers every one with 413).
                    #expect(try await client.readResponse().status == 413)
                }
            }
        }
    }

    /// An upstream that sends something before it reads the body — an interim `100 Continue` (RFC 9110 §15.2),
    /// or the head of a 200 it streams while it reads — and then reads slowly gets the whole upload: only a
    /// failed write ends an upload early.
    @Test(arguments: ["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"])
    func anUpstreamThatSpeaksBeforeReadingGetsTheWholeBody(early: String) async throws {
        let size = 16 << 20
        try await withScriptedUpstream(script: { connection in
            var received = try await Self.readHeadOnly(connection)
            try await connection.write(early)
            try await Task.sleep(for: .milliseconds(500))  // the gateway's writes block meanwhile
            let deadline = ContinuousClock.now + .seconds(20)
            while received < size {
                let count = try await connection.socket.read(deadline: deadline) { _ in }
                if count == 0 { break }
                received += count
            }
            let reply = "got body"
            if early.hasPrefix("HTTP/1.1 100") {
                try await connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(reply.utf8.count)\r\n\r\n\(reply)")
            } else {
                try await connection.write("\(String(reply.utf8.count, radix: 16))\r\n\(reply)\r\n0\r\n\r\n")
            }
        }) { upstream in
            try await withGateway(to: upstream.address, server: { $0.limits.maxBodySize = 32 << 20 }) { gateway in
                let client = try await gateway.connect()
                try await client.send("PUT /upload HTTP/1.1\r\nHost: s.test\r\nContent-Length: \(size)\r\n\r\n")
                async let sent: Void = client.send(patternBytes(size))
                let response = try await client.readResponse(method: .put, timeout: .seconds(30))
                _ = try? await sent
                #expect(response.status == 200)
                #expect(response.text == "got body")
            }
        }
    }

    @Test func stalledStreamedBodyGets408() async throws {
        try await withScriptedUpstream(script: { connection in
            _ = try? await connection.readRequest(timeout: .seconds(20))
        }) { upstream in
            try await withGateway(to: upstream.address, server: { $0.bodyTimeout = .milliseconds(300) }) { gateway in
                let client = try await gateway.connect()
                try await client.send("PUT /slow HTTP/1.1\r\nHost: s.test\r\nContent-Length: \(1 << 20)\r\n\r\n")
                try await client.send(patternBytes(128 << 10))
                let response = try await client.readResponse(method: .put)
                #expect(response.status == 408)
                #expect(await client.isClosedByPeer(within: .seconds(5)))
            }
        }
    }

    @Test func clientDisconnectingMidStreamLeavesNothingOpen() async throws {
        var ports: Set<UInt16> = []
        let payload = patternBytes(8 << 20)
        try await withScriptedUpstream(script: { connection in
            guard let request = try await connection.readRequest(timeout: .seconds(20)) else { return }
            if request.path == "/download" {
                try await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: \(payload.count)\r\n\r\n".utf8) + payload)
                await connection.waitForPeerClose()
            }
        }) { upstream in
            ports.insert(upstream.port)
            try await withGateway(to: upstream.address, server: { $0.limits.maxBodySize = 16 << 20 }) { gateway in
                ports.insert(gateway.port)
                // Upload cut short.
                let uploader = try await gateway.connect()
                try await uploader.send("PUT /upload HTTP/1.1\r\nHost: s.test\r\nContent-Length: \(payload.count)\r\n\r\n")
                try await uploader.send(Array(payload[..<(1 << 20)]))
                #expect(await eventually(timeout: .seconds(10)) { upstream.acceptedCount == 1 })
                uploader.close()
                #expect(await eventually(timeout: .seconds(10)) { upstream.finishedCount == 1 })
                // Download abandoned.
                let downloader = try await gateway.connect()
                try await downloader.send("GET /download HTTP/1.1\r\nHost: s.test\r\n\r\n")
                try await downloader.discard(atLeast: 1 << 20)
                downloader.close()
                // The upstream connection is closed (never pooled), and the gateway's client connections are gone.
                #expect(await eventually(timeout: .seconds(10)) { upstream.finishedCount == 2 })
                #expect(await eventually(timeout: .seconds(10)) { gateway.server.connectionCount == 0 })
            }
        }
        let allPorts = ports
        #expect(await eventually { openTCPSocketCount(ports: allPorts) == 0 }, "\(openTCPSocketCount(ports: allPorts)) sockets left")
    }

    @Test func pipelinedRequestAfterAStreamedOneIsFramedCorrectly() async throws {
        let body = patternBytes(200 << 10)
        let message = Array("PUT /a HTTP/1.1\r\nHost: s.test\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
            + Array("GET /b HTTP/1.1\r\nHost: s.test\r\n\r\n".utf8)
        try await withScriptedUpstream(script: Self.describing()) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send(message)
                let responses = try await client.readResponses(2, methods: [.put, .get])
                #expect(responses[0].text == "\(body.count) \(fnv1a(body)) \(body.count) -")
                #expect(responses[1].text == "0 \(fnv1a([])) - -")
                #expect(upstream.acceptedCount == 1)
            }
        }
        // The body was not read (the upstream is down): the connection closes instead of taking it for a request.
        let dead = try ProxyUpstreamFailureTests.deadPort()
        defer { withExtendedLifetime(dead) {} }
        try await withGateway(to: dead.address) { gateway in
            let client = try await gateway.connect()
            try await client.send(message)
            let raw = String(decoding: try await client.readUntilClose(), as: UTF8.self)
            #expect(raw.hasPrefix("HTTP/1.1 502 "))
            #expect(raw.contains("Connection: close\r\n"))
            #expect(raw.components(separatedBy: "HTTP/1.1 ").count == 2, "exactly one response")
        }
    }
}

/// A flag tasks can share.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
