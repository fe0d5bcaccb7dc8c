import GatewayHTTP
import GatewayStore
import HTTPTypes
import Idempotency
import Testing

struct SomeBackendError: Error {}

@Suite("Engine: upstream outcomes")
struct EngineUpstreamTests {
    @Test func backend5xxReleasesTheKeyByDefault() async throws {
        let backend = TestBackend { call, _ in
            call == 1
                ? GatewayResponse(status: .serviceUnavailable, body: Array("busy".utf8))
                : TestBackend.created("order-\(call)")
        }
        let harness = Harness(backend: backend)
        let (first, outcome) = await harness.send()
        #expect(first.head.status == .serviceUnavailable)
        #expect(first.bodyString == "busy")
        #expect(outcome == .released)
        #expect(try await harness.engine.record(for: RecordKey(scope: "", key: "abc-123")) == nil)
        let (second, again) = await harness.send()
        #expect(again == .forwarded)
        #expect(second.head.status == .created)
        #expect(harness.backend.callCount == 2)
    }

    @Test func store5xxReplaysServerErrors() async {
        let backend = TestBackend { _, _ in GatewayResponse(status: .internalServerError, body: Array("boom".utf8)) }
        let harness = Harness(configuration: IdempotencyConfiguration(store5xx: true), backend: backend)
        let (_, first) = await harness.send()
        #expect(first == .forwarded)
        let (replay, outcome) = await harness.send()
        #expect(outcome == .replayed)
        #expect(replay.head.status == .internalServerError)
        #expect(replay.bodyString == "boom")
        #expect(harness.backend.callCount == 1)
    }

    @Test func backend4xxIsStoredAndReplayed() async {
        let backend = TestBackend { _, _ in
            GatewayResponse(
                status: HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required"), body: Array("declined".utf8))
        }
        let harness = Harness(backend: backend)
        _ = await harness.send()
        let (replay, outcome) = await harness.send()
        #expect(outcome == .replayed)
        #expect(replay.head.status.code == 402)
        #expect(harness.backend.callCount == 1)
    }

    @Test func unreachableIs502AndReleases() async throws {
        let backend = TestBackend { call, _ in
            if call == 1 { throw UpstreamError.unreachable("connection refused") }
            return TestBackend.created("order-\(call)")
        }
        let harness = Harness(backend: backend)
        let (response, outcome) = await harness.send()
        #expect(response.head.status == .badGateway)
        #expect(outcome == .released)
        #expect((try problemJSON(response)["type"] as? String)?.hasSuffix("#problem-upstream-unreachable") == true)
        let (retry, again) = await harness.send()
        #expect(again == .forwarded)
        #expect(retry.head.status == .created)
    }

    @Test(arguments: [UpstreamError.failed("reset by peer"), UpstreamError.timeout])
    func ambiguousFailuresKeepTheKeyUntilTheLeaseEnds(error: UpstreamError) async throws {
        let backend = TestBackend { call, _ in
            if call == 1 { throw error }
            return TestBackend.created("order-\(call)")
        }
        let harness = Harness(backend: backend)
        let (response, outcome) = await harness.send()
        #expect(response.head.status == (error == .timeout ? .gatewayTimeout : .badGateway))
        #expect(outcome == .forwarded)
        #expect(await harness.send().1 == .conflict)
        #expect(harness.backend.callCount == 1)
        harness.clock.advance(seconds: 60)
        let (retry, again) = await harness.send()
        #expect(again == .forwarded)
        #expect(retry.head.status == .created)
        #expect(harness.backend.callCount == 2)
    }

    @Test func aThrownErrorIsA500LikeAReturnedOne() async {
        // HTTPHandler's contract: a thrown error is a 500, released by default like any 5xx.
        let harness = Harness(backend: TestBackend { call, _ in
            if call == 1 { throw SomeBackendError() }
            return TestBackend.created("order-\(call)")
        })
        let (response, outcome) = await harness.send()
        #expect(response.head.status == .internalServerError)
        #expect(response.header(.contentType) == "application/problem+json")
        #expect(outcome == .released)
        #expect(await harness.send().1 == .forwarded)
        #expect(harness.backend.callCount == 2)
        // Without a key too (not 502).
        let plain = Harness(backend: TestBackend { _, _ in throw SomeBackendError() })
        #expect(await plain.send(makeRequest(key: nil)).0.head.status == .internalServerError)
    }

    @Test func aThrownErrorIsStoredWhen5xxAreStored() async {
        var configuration = IdempotencyConfiguration()
        configuration.store5xx = true
        let harness = Harness(configuration: configuration, backend: TestBackend { _, _ in throw SomeBackendError() })
        #expect(await harness.send().0.head.status == .internalServerError)
        #expect(await harness.send().1 == .replayed)
        #expect(harness.backend.callCount == 1)
    }

    struct Teapot: HTTPResponseError {
        var response: GatewayResponse { GatewayResponse(status: HTTPResponse.Status(code: 418), body: Array("tea".utf8)) }
    }

    @Test func aThrownHTTPResponseErrorIsItsResponseAndIsStored() async {
        let harness = Harness(backend: TestBackend { _, _ in throw Teapot() })
        let (first, outcome) = await harness.send()
        #expect(first.head.status.code == 418)
        #expect(outcome == .forwarded)
        let (replay, again) = await harness.send()
        #expect(again == .replayed)
        #expect(replay.bodyString == "tea")
        #expect(harness.backend.callCount == 1)
    }

    @Test func failedKeepsTheKeyInFlight() async {
        // The way for a handler to say "I may have acted": UpstreamError.failed.
        let harness = Harness(backend: TestBackend { _, _ in throw UpstreamError.failed("half done") })
        let (response, outcome) = await harness.send()
        #expect(response.head.status == .badGateway)
        #expect(outcome == .forwarded)
        #expect(await harness.send().1 == .conflict)
        #expect(harness.backend.callCount == 1)
    }

    @Test func passthroughMapsUpstreamErrorsToProblems() async {
        let harness = Harness(backend: TestBackend { _, _ in throw UpstreamError.timeout })
        let (response, outcome) = await harness.send(makeRequest(method: .get))
        #expect(outcome == .passthrough)
        #expect(response.head.status == .gatewayTimeout)
    }
}
