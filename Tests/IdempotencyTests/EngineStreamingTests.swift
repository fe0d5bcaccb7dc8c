import GatewayHTTP
import GatewayStore
import HTTPTypes
import Idempotency
import Synchronization
import Testing
import TestSupport

/// A backend that takes streamed bodies and answers with a streamed body when the request allows it.
private final class StreamingBackend: HTTPHandler {
    let seen = Mutex<[(allowsStreamedResponse: Bool, streamed: Bool, body: [UInt8])]>([])
    let responses = Mutex<[ArrayBodyStream]>([])

    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        let body = try await request.bodyStream?.collect() ?? request.body
        seen.withLock { $0.append((request.allowsStreamedResponse, request.bodyStream != nil, body)) }
        // Streams even when not allowed: the engine must cope (it collects the body to record it).
        let stream = ArrayBodyStream([Array("streamed ".utf8), body], announceLength: false)
        responses.withLock { $0.append(stream) }
        return GatewayResponse(head: HTTPResponse(status: .ok), bodyStream: stream)
    }

    func acceptsStreamedBody(for head: HTTPRequest) -> Bool { true }
}

@Suite("Engine: streamed bodies")
struct EngineStreamingTests {
    private static func engine(
        _ backend: any HTTPHandler, configuration: IdempotencyConfiguration = IdempotencyConfiguration()
    ) -> IdempotencyEngine {
        IdempotencyEngine(
            configuration: configuration, store: TestKeyStore(), next: backend, wallClock: TestClock().closure,
            logger: .init(label: "engine-streaming-tests"))
    }

    @Test func onlyPassthroughRequestsAcceptStreamedBodies() {
        let engine = Self.engine(StreamingBackend())
        #expect(engine.acceptsStreamedBody(for: makeRequest(method: .put, key: nil).head))
        #expect(engine.acceptsStreamedBody(for: makeRequest(method: .get, key: "k").head))
        #expect(engine.acceptsStreamedBody(for: makeRequest(method: .post, key: nil).head))
        #expect(!engine.acceptsStreamedBody(for: makeRequest(method: .post, key: "k").head))
        #expect(!engine.acceptsStreamedBody(for: makeRequest(method: .patch, key: String(repeating: "k", count: 300)).head))
        let required = Self.engine(StreamingBackend(), configuration: IdempotencyConfiguration(requireKey: true))
        #expect(!required.acceptsStreamedBody(for: makeRequest(method: .post, key: nil).head))
        // The backend has the last word: one that wants whole bodies never gets a stream.
        #expect(!Self.engine(TestBackend()).acceptsStreamedBody(for: makeRequest(method: .put, key: nil).head))
    }

    @Test func passthroughStreamsGoThroughUntouched() async throws {
        let backend = StreamingBackend()
        let engine = Self.engine(backend)
        var request = makeRequest(method: .put, key: nil, body: "")
        request.bodyStream = ArrayBodyStream([Array("up".utf8), Array("load".utf8)], announceLength: true)
        request.allowsStreamedResponse = true
        let (response, outcome) = await engine.process(request)
        #expect(outcome == .passthrough)
        let stream = try #require(response.bodyStream as? ArrayBodyStream)
        #expect(stream === backend.responses.withLock { $0.first })
        #expect(stream.piecesRead == 0, "the engine did not read the response")
        #expect(try await stream.collect() == Array("streamed upload".utf8))
        let seen = try #require(backend.seen.withLock { $0.first })
        #expect(seen.allowsStreamedResponse && seen.streamed)
    }

    @Test func keyedRequestsAreBufferedRecordedAndReplayed() async throws {
        let backend = StreamingBackend()
        let engine = Self.engine(backend)
        var request = makeRequest(method: .post, key: "stream-1", body: "")
        // A caller that streamed anyway: the engine reads the body whole before fingerprinting it.
        request.bodyStream = ArrayBodyStream([Array("pay".utf8), Array("load".utf8)], announceLength: true)
        request.allowsStreamedResponse = true
        let (first, outcome) = await engine.process(request)
        #expect(outcome == .forwarded)
        #expect(first.bodyStream == nil)
        #expect(first.body == Array("streamed payload".utf8))
        let seen = try #require(backend.seen.withLock { $0.first })
        #expect(!seen.allowsStreamedResponse, "a response that is recorded must come back whole")
        #expect(!seen.streamed)
        #expect(seen.body == Array("payload".utf8))

        // Same key, same body (buffered this time): same fingerprint, so a replay.
        let (replay, replayOutcome) = await engine.process(makeRequest(method: .post, key: "stream-1", body: "payload"))
        #expect(replayOutcome == .replayed)
        #expect(replay.body == Array("streamed payload".utf8))
        #expect(backend.seen.withLock { $0.count } == 1)
    }
}
