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
        _ backend: any HTTPHandler, configuration: IdempotencyConfiguration = IdempotencyConfiguration(),
        metrics: RecordingMetrics = RecordingMetrics()
    ) -> IdempotencyEngine {
        IdempotencyEngine(
            configuration: configuration, store: TestKeyStore(), next: backend, wallClock: TestClock().closure,
            logger: .init(label: "engine-streaming-tests"), metricsFactory: metrics)
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
        // The backend may stream its response: the engine holds it whole up to the storable size (this one is small).
        #expect(seen.allowsStreamedResponse)
        #expect(!seen.streamed)
        #expect(seen.body == Array("payload".utf8))

        // Same key, same body (buffered this time): same fingerprint, so a replay.
        let (replay, replayOutcome) = await engine.process(makeRequest(method: .post, key: "stream-1", body: "payload"))
        #expect(replayOutcome == .replayed)
        #expect(replay.body == Array("streamed payload".utf8))
        #expect(backend.seen.withLock { $0.count } == 1)
    }

    /// A response over `max-stored-response-bytes` is never held whole: the engine reads up to the limit, records
    /// the status and headers, and hands the client a stream of the whole body (the start it read, then the rest).
    @Test(arguments: [true, false])
    func aLargeResponseIsStreamedAndRecordedWithoutItsBody(announceLength: Bool) async throws {
        let pieces = (0..<8).map { [UInt8](repeating: UInt8(65 + $0), count: 1000) }
        let streams = Mutex<[ArrayBodyStream]>([])
        // Streams whether asked to or not (a custom backend may): the engine copes either way.
        let backend = ClosureHandler { _ in
            let stream = ArrayBodyStream(pieces, announceLength: announceLength)
            streams.withLock { $0.append(stream) }
            var head = HTTPResponse(status: .created)
            head.headerFields[.contentType] = "application/octet-stream"
            return GatewayResponse(head: head, bodyStream: stream)
        }
        let engine = Self.engine(backend, configuration: IdempotencyConfiguration(maxStoredResponseBytes: 2500))
        var request = makeRequest(method: .post, key: "large-1", body: "x")
        request.allowsStreamedResponse = true
        let (first, outcome) = await engine.process(request)
        #expect(outcome == .forwarded)
        let stream = try #require(first.bodyStream)
        // Not read at all when its length is announced; otherwise only as far as needed to see it is too large.
        #expect(streams.withLock { $0[0].piecesRead } == (announceLength ? 0 : 3))
        #expect(stream.length == (announceLength ? 8000 : nil))
        #expect(try await stream.collect() == pieces.flatMap { $0 })

        let (replay, replayOutcome) = await engine.process(makeRequest(method: .post, key: "large-1", body: "x"))
        #expect(replayOutcome == .replayed)
        #expect(replay.head.status == .created)
        #expect(replay.body.isEmpty)
        #expect(replay.head.headerFields[HTTPField.Name("Idempotent-Replay-Body")!] == "omitted")
        #expect(streams.withLock { $0.count } == 1)

        // A caller that cannot take a stream gets the whole body; the record still has none.
        var whole = makeRequest(method: .post, key: "large-2", body: "x")
        whole.allowsStreamedResponse = false
        let (buffered, _) = await engine.process(whole)
        #expect(buffered.bodyStream == nil)
        #expect(buffered.body == pieces.flatMap { $0 })
    }

    /// Keyed response bodies held to be stored count against `max-buffered-response-bytes`: one that would go past
    /// it is handled as a large one (streamed whole to its client, stored without its body, the backend never runs
    /// twice), and what a response held is given back when the last copy of the response is gone.
    @Test(arguments: [true, false])
    func aResponseOverTheBudgetIsStreamedAndStoredWithoutItsBody(announceLength: Bool) async throws {
        let pieces = (0..<4).map { [UInt8](repeating: UInt8(97 + $0), count: 1000) }
        let streams = Mutex<[ArrayBodyStream]>([])
        let backend = ClosureHandler { _ in
            let stream = ArrayBodyStream(pieces, announceLength: announceLength)
            streams.withLock { $0.append(stream) }
            return GatewayResponse(head: HTTPResponse(status: .created), bodyStream: stream)
        }
        // Each body (4000 bytes) is storable; two of them are not held at once within 6000 bytes.
        let metrics = RecordingMetrics()
        let engine = Self.engine(
            backend,
            configuration: IdempotencyConfiguration(maxStoredResponseBytes: 5000, maxBufferedResponseBytes: 6000),
            metrics: metrics)
        var request = makeRequest(method: .post, key: "held-1", body: "x")
        request.allowsStreamedResponse = true
        var held: GatewayResponse? = await engine.process(request).0
        #expect(held?.bodyStream == nil)
        #expect(held?.body == pieces.flatMap { $0 })
        #expect(engine.responseBudget.inUse == 4000, "the first response is held until its last copy is gone")

        do {
            var second = makeRequest(method: .post, key: "over-1", body: "x")
            second.allowsStreamedResponse = true
            let (over, outcome) = await engine.process(second)
            #expect(outcome == .forwarded)
            let stream = try #require(over.bodyStream)
            // Not read at all when its length is announced; otherwise read until a piece does not fit (the start it
            // read, 2000 bytes within the budget and the piece that did not fit, is held until the response is gone).
            #expect(streams.withLock { $0[1].piecesRead } == (announceLength ? 0 : 3))
            #expect(engine.responseBudget.inUse == (announceLength ? 4000 : 6000))
            #expect(try await stream.collect() == pieces.flatMap { $0 })
            // The start's share went back once it was handed out, while the response itself still lives.
            #expect(engine.responseBudget.inUse == 4000)
            #expect(engine.responseBudget.refusals == 1)
            #expect(metrics.value(IdempotencyMetricNames.responseBudgetRefusals) == 1)
            #expect(metrics.value(IdempotencyMetricNames.bodyOmitted) == 1)
            _ = over
        }

        let (replay, replayOutcome) = await engine.process(makeRequest(method: .post, key: "over-1", body: "x"))
        #expect(replayOutcome == .replayed)
        #expect(replay.body.isEmpty)
        #expect(replay.head.headerFields[HTTPField.Name("Idempotent-Replay-Body")!] == "omitted")
        #expect(streams.withLock { $0.count } == 2, "the backend ran once per key")

        // Once the first response is gone its bytes are free again: the next body is held and stored whole.
        // The forwarding task may still hold its copy for a moment after handing the response over.
        held = nil
        #expect(await eventually { engine.responseBudget.inUse == 0 })
        var third = makeRequest(method: .post, key: "held-2", body: "x")
        third.allowsStreamedResponse = true
        let fits = await engine.process(third).0
        #expect(fits.bodyStream == nil)
        #expect(fits.body == pieces.flatMap { $0 })
        let (replayed, _) = await engine.process(makeRequest(method: .post, key: "held-2", body: "x"))
        #expect(replayed.body == pieces.flatMap { $0 })
        _ = held
    }

    /// A body that is simply over `max-stored-response-bytes` is not a budget refusal, even when the budget is no
    /// larger than that: the piece that takes it past the limit is not charged.
    @Test func aBodyJustOverTheLimitIsNotABudgetRefusal() async throws {
        let pieces = (0..<4).map { [UInt8](repeating: UInt8(48 + $0), count: 1000) }
        let backend = ClosureHandler { _ in
            GatewayResponse(head: HTTPResponse(status: .ok), bodyStream: ArrayBodyStream(pieces, announceLength: false))
        }
        let engine = Self.engine(
            backend,
            configuration: IdempotencyConfiguration(maxStoredResponseBytes: 2500, maxBufferedResponseBytes: 2500))
        var request = makeRequest(method: .post, key: "just-over", body: "x")
        request.allowsStreamedResponse = true
        let (response, _) = await engine.process(request)
        let stream = try #require(response.bodyStream)
        #expect(engine.responseBudget.inUse == 2000, "the two pieces within the limit are held until handed out")
        #expect(try await stream.collect() == pieces.flatMap { $0 })
        #expect(engine.responseBudget.refusals == 0)
        #expect(engine.responseBudget.inUse == 0)
        let (replay, outcome) = await engine.process(makeRequest(method: .post, key: "just-over", body: "x"))
        #expect(outcome == .replayed)
        #expect(replay.head.headerFields[HTTPField.Name("Idempotent-Replay-Body")!] == "omitted")
    }

    /// When the client is gone before a large streamed response arrives (it got its 504), no one reads the stream:
    /// the engine cancels it (which closes an upstream connection) after recording the response without its body.
    @Test func aLargeResponseNoOneWaitsForIsCancelled() async throws {
        let gate = TestGate()
        let stream = ArrayBodyStream([[UInt8](repeating: 1, count: 4000)], announceLength: true)
        let backend = ClosureHandler { _ in
            await gate.wait()
            return GatewayResponse(head: HTTPResponse(status: .ok), bodyStream: stream)
        }
        let engine = Self.engine(
            backend, configuration: IdempotencyConfiguration(upstreamTimeout: .milliseconds(100), maxStoredResponseBytes: 1000))
        var request = makeRequest(method: .post, key: "late-large", body: "x")
        request.allowsStreamedResponse = true
        let (first, _) = await engine.process(request)
        #expect(first.head.status.code == 504)
        gate.open()
        #expect(await eventually { stream.wasCancelled })
        let (replay, outcome) = await engine.process(makeRequest(method: .post, key: "late-large", body: "x"))
        #expect(outcome == .replayed)
        #expect(replay.head.headerFields[HTTPField.Name("Idempotent-Replay-Body")!] == "omitted")
    }

    /// Once a streamed response's head has arrived, the client waits for the body's start (read before anything is
    /// sent, to see whether it can be stored) without the upstream timeout: a slow but live body is not turned into
    /// a 504 (each read is still bounded by the backend).
    @Test(arguments: [10_000, 2500])
    func aSlowBodyAfterItsHeadIsNotA504(maxStored: Int) async throws {
        // The body takes 1.5 s in all, past the 1 s upstream timeout (which the head, returned at once, meets even
        // on a loaded machine).
        let pieces = (0..<5).map { [UInt8](repeating: UInt8(97 + $0), count: 1000) }
        let backend = ClosureHandler { _ in
            GatewayResponse(head: HTTPResponse(status: .ok), bodyStream: SlowStream(pieces, pause: .milliseconds(300)))
        }
        let engine = Self.engine(
            backend,
            configuration: IdempotencyConfiguration(upstreamTimeout: .seconds(1), maxStoredResponseBytes: maxStored))
        var request = makeRequest(method: .post, key: "slow-body-\(maxStored)", body: "x")
        request.allowsStreamedResponse = true
        let (response, outcome) = await engine.process(request)
        #expect(outcome == .forwarded)
        #expect(response.head.status == .ok)
        let body = try await response.bodyStream?.collect() ?? response.body
        #expect(body == pieces.flatMap { $0 })
    }

    /// A large streamed body that breaks off after its record was stored: the client's stream fails (the server then
    /// closes the connection, so the message is visibly incomplete), and a retry gets the stored status and headers
    /// (the upstream did answer), as for any body too large to store.
    @Test func aLargeBodyThatBreaksOffAfterItsRecordIsStored() async throws {
        let status = Mutex(HTTPResponse.Status.ok)
        let backend = ClosureHandler { _ in
            GatewayResponse(
                head: HTTPResponse(status: status.withLock { $0 }),
                bodyStream: SlowStream((0..<4).map { _ in [UInt8](repeating: 7, count: 1000) }, pause: .zero, failAtEnd: true))
        }
        let metrics = RecordingMetrics()
        let engine = IdempotencyEngine(
            configuration: IdempotencyConfiguration(maxStoredResponseBytes: 1500), store: TestKeyStore(), next: backend,
            wallClock: TestClock().closure, logger: .init(label: "engine-streaming-tests"), metricsFactory: metrics)
        var request = makeRequest(method: .post, key: "broken-1", body: "x")
        request.allowsStreamedResponse = true
        let (response, _) = await engine.process(request)
        let stream = try #require(response.bodyStream)
        await #expect(throws: (any Error).self) { _ = try await stream.collect() }
        #expect(metrics.value(IdempotencyMetricNames.bodyBroken) == 1)
        let (replay, outcome) = await engine.process(makeRequest(method: .post, key: "broken-1", body: "x"))
        #expect(outcome == .replayed)
        #expect(replay.head.headerFields[HTTPField.Name("Idempotent-Replay-Body")!] == "omitted")

        // A 5xx releases its key: nothing was recorded, so its break is not counted as one of a recorded body.
        status.withLock { $0 = .badGateway }
        var failing = makeRequest(method: .post, key: "broken-2", body: "x")
        failing.allowsStreamedResponse = true
        let (released, releasedOutcome) = await engine.process(failing)
        #expect(releasedOutcome == .released)
        await #expect(throws: (any Error).self) { _ = try await released.bodyStream?.collect() }
        #expect(metrics.value(IdempotencyMetricNames.bodyBroken) == 1)
    }

    /// The start of a large body is read before the client gets anything, its upstream timeout stopped: a read that
    /// fails or stalls there, or the key's lease ending first, is a broken exchange (502, key in flight until the
    /// lease ends), never a 504 that promises a late answer, and never a wait without end.
    @Test func aBodyStartThatStallsIsABrokenExchange() async throws {
        let gate = TestGate()
        let backend = ClosureHandler { _ in
            GatewayResponse(head: HTTPResponse(status: .ok), bodyStream: HangingStream(first: [1, 2, 3], gate: gate))
        }
        let engine = Self.engine(
            backend,
            configuration: IdempotencyConfiguration(
                lease: .milliseconds(1500), upstreamTimeout: .seconds(1), maxStoredResponseBytes: 1000))
        var request = makeRequest(method: .post, key: "hang-1", body: "x")
        request.allowsStreamedResponse = true
        let started = ContinuousClock.now
        let (response, outcome) = await engine.process(request)
        #expect(ContinuousClock.now - started < .seconds(5), "bounded by the lease")
        #expect(response.head.status == .badGateway)
        #expect(outcome == .forwarded)
        #expect(gate.isOpen, "the stream was cancelled at the lease's end")
        let (retry, _) = await engine.process(makeRequest(method: .post, key: "hang-1", body: "x"))
        #expect(retry.head.status == .conflict || retry.head.status == .badGateway)
    }
}

/// A body of unknown length whose pieces arrive `pause` apart (and which may break off at its end).
private final class SlowStream: HTTPBodyStream {
    private let pieces: Mutex<[[UInt8]]>
    private let pause: Duration
    private let failAtEnd: Bool
    struct BrokeOff: Error {}
    /// - Parameter failAtEnd: throw instead of ending (a body that broke off).
    init(_ pieces: [[UInt8]], pause: Duration, failAtEnd: Bool = false) {
        self.pieces = Mutex(pieces)
        self.pause = pause
        self.failAtEnd = failAtEnd
    }
    var length: Int? { nil }
    func next() async throws -> [UInt8]? {
        if pause > .zero { try await Task.sleep(for: pause) }
        let piece = pieces.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        if piece == nil, failAtEnd { throw BrokeOff() }
        return piece
    }
    func cancel() { pieces.withLock { $0 = [] } }
}

/// A body that gives one piece, then waits until it is cancelled (a stalled upstream whose cancellation closes it).
private final class HangingStream: HTTPBodyStream {
    private let first: Mutex<[UInt8]?>
    private let gate: TestGate
    init(first: [UInt8], gate: TestGate) {
        self.first = Mutex(first)
        self.gate = gate
    }
    var length: Int? { nil }
    func next() async throws -> [UInt8]? {
        if let piece = first.withLock({ $0.take() }) { return piece }
        await gate.wait()
        throw CancellationError()
    }
    func cancel() { gate.open() }
}

