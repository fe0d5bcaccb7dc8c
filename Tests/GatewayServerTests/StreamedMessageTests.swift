import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Synchronization
import Testing
import TestSupport

/// A handler that takes streamed bodies and answers `<bytes> <pieces>` after reading the whole body, unless the
/// path is `/ignore` (answers at once, never reading the body).
private struct CountingHandler: HTTPHandler {
    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        guard let stream = request.bodyStream else {
            return GatewayResponse(status: .ok, body: Array("buffered \(request.body.count)".utf8))
        }
        if request.head.path == "/ignore" { return GatewayResponse(status: .accepted, body: Array("ignored".utf8)) }
        var count = 0
        var pieces = 0
        while let piece = try await stream.next() {
            count += piece.count
            pieces += 1
        }
        return GatewayResponse(status: .ok, body: Array("streamed \(count)".utf8))
    }

    func acceptsStreamedBody(for head: HTTPRequest) -> Bool { true }
}

/// A handler answering with a streamed body: `/sized` with a length, `/unsized` without, `/empty` as 204.
private final class StreamingResponder: HTTPHandler {
    let streams = Mutex<[ArrayBodyStream]>([])

    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        let stream = ArrayBodyStream(
            [Array("hello ".utf8), Array("streamed ".utf8), Array("world".utf8)], announceLength: request.head.path == "/sized")
        streams.withLock { $0.append(stream) }
        let status: HTTPResponse.Status = request.head.path == "/empty" ? .noContent : .ok
        return GatewayResponse(head: HTTPResponse(status: status), bodyStream: stream)
    }
}

@Suite("Server: streamed request and response bodies")
struct StreamedMessageTests {
    @Test func streamedResponsesAreFramedForTheClient() async throws {
        let responder = StreamingResponder()
        try await withServer(responder) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET /sized HTTP/1.1\r\nHost: t\r\n\r\nGET /unsized HTTP/1.1\r\nHost: t\r\n\r\n")
            let responses = try await client.readResponses(2)
            #expect(responses[0].text == "hello streamed world")
            #expect(responses[0].header("Content-Length") == "20")
            #expect(responses[1].text == "hello streamed world")
            #expect(responses[1].header("Transfer-Encoding") == "chunked")
            #expect(responses[1].head.keepAlive)

            // HEAD and 204: no body, the stream is cancelled unread; the connection stays in step.
            try await client.send("HEAD /sized HTTP/1.1\r\nHost: t\r\n\r\nGET /empty HTTP/1.1\r\nHost: t\r\n\r\nGET /sized HTTP/1.1\r\nHost: t\r\n\r\n")
            let more = try await client.readResponses(3, methods: [.head, .get, .get])
            #expect(more[0].header("Content-Length") == "20")
            #expect(more[0].body.isEmpty)
            #expect(more[1].status == 204)
            #expect(more[1].body.isEmpty)
            #expect(more[2].text == "hello streamed world")
            let streams = responder.streams.withLock { $0 }
            #expect(streams.count == 5)
            #expect(streams[2].wasCancelled && streams[2].piecesRead == 0)
            #expect(streams[3].wasCancelled && streams[3].piecesRead == 0)

            // HTTP/1.0 and no length: the body ends with the connection.
            let old = try await TestClient.connect(port: port)
            try await old.send("GET /unsized HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let raw = String(decoding: try await old.readUntilClose(), as: UTF8.self)
            #expect(raw.hasPrefix("HTTP/1.0 200 OK\r\n"))
            #expect(raw.contains("Connection: close\r\n"))
            #expect(!raw.contains("Transfer-Encoding"))
            #expect(raw.hasSuffix("\r\n\r\nhello streamed world"))
        }
    }

    @Test func onlyBodiesOverTheStreamingSizeAreStreamed() async throws {
        try await withServer(CountingHandler(), configure: { $0.streamBodiesOver = 1000 }) { _, port in
            let client = try await TestClient.connect(port: port)
            let small = String(repeating: "s", count: 1000)
            let large = String(repeating: "l", count: 1001)
            try await client.send("PUT /a HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n\(small)")
            #expect(try await client.readResponse(method: .put).text == "buffered 1000")
            try await client.send("PUT /a HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n\(large)")
            #expect(try await client.readResponse(method: .put).text == "streamed 1001")
        }
        // A handler that does not opt in always gets the body whole.
        try await withServer(helloHandler, configure: { $0.streamBodiesOver = 10 }) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("PUT /h HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 100))
            #expect(try await client.readResponse(method: .put).text == "hello /h" + String(repeating: "x", count: 100))
        }
    }

    @Test func continueIsSentWhenTheStreamIsFirstReadAndNeverForAnIgnoredBody() async throws {
        try await withServer(CountingHandler(), configure: { $0.streamBodiesOver = 10 }) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("PUT /read HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n")
            var received: [UInt8] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while received.count < HTTPEncoder.continueResponse.count {
                let count = try await client.socket.read(deadline: deadline) { received += $0 }
                try #require(count > 0)
            }
            #expect(received == HTTPEncoder.continueResponse)
            try await client.send(String(repeating: "c", count: 100))
            #expect(try await client.readResponse(method: .put).text == "streamed 100")

            // Not read: no 100 Continue, and the connection closes rather than guess where the body ends.
            let other = try await TestClient.connect(port: port)
            try await other.send("PUT /ignore HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n")
            let raw = String(decoding: try await other.readUntilClose(), as: UTF8.self)
            #expect(raw.hasPrefix("HTTP/1.1 202 Accepted\r\n"), "\(raw)")
            #expect(raw.contains("Connection: close\r\n"))
            #expect(raw.hasSuffix("ignored"))
        }
    }

    @Test func collectStopsAtItsLimitAndCancelsTheStream() async throws {
        let pieces = [[UInt8](repeating: 1, count: 600), [UInt8](repeating: 2, count: 600)]
        let whole = ArrayBodyStream(pieces, announceLength: false)
        #expect(try await whole.collect(limit: 1200).count == 1200)

        let unknownLength = ArrayBodyStream(pieces, announceLength: false)
        await #expect(throws: HTTPBodyTooLarge.self) { try await unknownLength.collect(limit: 1000) }
        #expect(unknownLength.wasCancelled)

        // A announced length over the limit fails before anything is read.
        let announced = ArrayBodyStream(pieces, announceLength: true)
        await #expect(throws: HTTPBodyTooLarge.self) { try await announced.collect(limit: 1000) }
        #expect(announced.piecesRead == 0)
        #expect(announced.wasCancelled)
    }

    @Test func aSecondConcurrentReaderOfARequestBodyIsRefused() async throws {
        // The handler pulls the body from two tasks at once: the second call must fail instead of replacing the
        // first one's socket wait (which would then never be resumed).
        let outcomes = Outcomes()
        let handler = ConcurrentReaders(outcomes: outcomes)
        try await withServer(handler, configure: { $0.streamBodiesOver = 10 }) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("PUT /a HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            #expect(await eventually { outcomes.list.contains("refused") })
            try await client.send(String(repeating: "x", count: 100_000))
            let raw = String(decoding: try await client.readUntilClose(), as: UTF8.self)
            #expect(raw.hasPrefix("HTTP/1.1 200 "))
        }
        #expect(outcomes.list.sorted() == ["read", "refused"])
    }
}

/// Reads a streamed body from two tasks at once; records "read" for the one that got data, "refused" for the other.
private final class Outcomes: Sendable {
    private let state = Mutex<[String]>([])
    func append(_ outcome: String) { state.withLock { $0.append(outcome) } }
    var list: [String] { state.withLock { $0 } }
}

private struct ConcurrentReaders: HTTPHandler {
    let outcomes: Outcomes

    func acceptsStreamedBody(for head: HTTPRequest) -> Bool { true }

    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        let stream = try #require(request.bodyStream)
        await withTaskGroup(of: String.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    do {
                        return try await stream.next() == nil ? "end" : "read"
                    } catch {
                        return "refused"
                    }
                }
            }
            for await outcome in group { outcomes.append(outcome) }
        }
        return GatewayResponse(status: .ok, body: Array("done".utf8))
    }
}
