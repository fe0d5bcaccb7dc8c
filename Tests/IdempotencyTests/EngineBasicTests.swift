import GatewayHTTP
import GatewayStore
import HTTPTypes
import Idempotency
import Testing

@Suite("Engine: keys, replay, mismatch")
struct EngineBasicTests {
    @Test func newKeyIsForwardedStoredAndReplayedByteForByte() async throws {
        let harness = Harness()
        let (first, firstOutcome) = await harness.send()
        #expect(firstOutcome == .forwarded)
        #expect(first.head.status == .created)
        #expect(first.header(IdempotencyHeaders.idempotentReplayed) == nil)
        #expect(harness.backend.callCount == 1)

        let record = try #require(try await harness.engine.record(for: RecordKey(scope: "", key: "abc-123")))
        #expect(record.state == .completed)
        #expect(record.response?.status == 201)

        let (replay, outcome) = await harness.send()
        #expect(outcome == .replayed)
        #expect(replay.head.status == .created)
        #expect(replay.body == first.body)
        #expect(replay.header(.location) == "/orders/1")
        #expect(replay.header(.contentType) == "application/json")
        #expect(replay.header(IdempotencyHeaders.idempotentReplayed) == "true")
        #expect(harness.backend.callCount == 1)
    }

    @Test func replayFromTheStoreWithoutHotCache() async {
        let harness = Harness(configuration: IdempotencyConfiguration(hotCacheBytes: 0))
        let (first, _) = await harness.send()
        harness.store.resetCalls()
        let (replay, outcome) = await harness.send()
        #expect(outcome == .replayed)
        #expect(replay.body == first.body)
        #expect(harness.store.calls("claim") == 1)
        #expect(harness.backend.callCount == 1)
    }

    @Test func keyIsForwardedUnchanged() async {
        let harness = Harness()
        _ = await harness.send(makeRequest(key: #""quoted-key""#))
        #expect(
            harness.backend.requests.first?.head.headerFields[IdempotencyHeaders.idempotencyKey] == #""quoted-key""#)
        // The bare form names the same key.
        let (_, outcome) = await harness.send(makeRequest(key: "quoted-key"))
        #expect(outcome == .replayed)
    }

    @Test(arguments: [HTTPRequest.Method.get, .put, .delete, .head, .options])
    func uncoveredMethodsPassThroughEvenWithAKey(method: HTTPRequest.Method) async {
        let harness = Harness()
        let (_, a) = await harness.send(makeRequest(method: method))
        let (_, b) = await harness.send(makeRequest(method: method))
        #expect(a == .passthrough && b == .passthrough)
        #expect(harness.backend.callCount == 2)
        #expect(harness.store.totalCalls == 0)
    }

    @Test func patchIsCovered() async {
        let harness = Harness()
        _ = await harness.send(makeRequest(method: .patch))
        let (_, outcome) = await harness.send(makeRequest(method: .patch))
        #expect(outcome == .replayed)
    }

    @Test func missingKeyOptionalPassesThroughRequiredIs400() async throws {
        let optional = Harness()
        let (_, outcome) = await optional.send(makeRequest(key: nil))
        #expect(outcome == .passthrough)
        #expect(optional.backend.callCount == 1)

        let required = Harness(
            configuration: IdempotencyConfiguration(routes: [.init(pathPrefix: "/orders", requireKey: true)]))
        let (response, missing) = await required.send(makeRequest(key: nil))
        #expect(missing == .missingKey)
        #expect(response.head.status == .badRequest)
        let json = try problemJSON(response)
        #expect((json["type"] as? String)?.hasSuffix("README.md#problem-missing-key") == true)
        #expect(json["status"] as? Int == 400)
        #expect(required.backend.callCount == 0)
        // Another path falls back to the default route (key optional).
        let (_, other) = await required.send(makeRequest(path: "/other", key: nil))
        #expect(other == .passthrough)
    }

    @Test(arguments: ["", #""unbalanced"#, #""a";p=1"#, "a,b", "clé", String(repeating: "x", count: 256)])
    func invalidKeyIs400(key: String) async throws {
        let harness = Harness()
        let (response, outcome) = await harness.send(makeRequest(key: key))
        #expect(outcome == .invalidKey)
        #expect(response.head.status == .badRequest)
        #expect((try problemJSON(response)["type"] as? String)?.hasSuffix("#problem-invalid-key") == true)
        #expect(harness.backend.callCount == 0)
        #expect(harness.store.totalCalls == 0)
    }

    @Test func keySentTwiceIs400() async {
        let harness = Harness()
        let request = makeRequest(key: "a", headers: [(IdempotencyHeaders.idempotencyKey, "a")])
        let (response, outcome) = await harness.send(request)
        #expect(outcome == .invalidKey)
        #expect(response.bodyString.contains("2 times"))
    }

    @Test(arguments: [true, false])
    func mismatchIs422AndDoesNotPoison(hotCache: Bool) async throws {
        let harness = Harness(configuration: IdempotencyConfiguration(hotCacheBytes: hotCache ? 1 << 20 : 0))
        let (original, _) = await harness.send(makeRequest(body: "A"))
        let before = try await harness.engine.record(for: RecordKey(scope: "", key: "abc-123"))

        for request in [
            makeRequest(body: "B"), makeRequest(path: "/orders?x=1", body: "A"), makeRequest(method: .patch, body: "A"),
        ] {
            let (response, outcome) = await harness.send(request)
            #expect(outcome == .mismatch)
            #expect(response.head.status == .unprocessableContent)
            let json = try problemJSON(response)
            #expect((json["type"] as? String)?.hasSuffix("#problem-key-mismatch") == true)
            #expect(json["status"] as? Int == 422)
        }
        #expect(try await harness.engine.record(for: RecordKey(scope: "", key: "abc-123")) == before)
        let (replay, outcome) = await harness.send(makeRequest(body: "A"))
        #expect(outcome == .replayed)
        #expect(replay.body == original.body)
        #expect(harness.backend.callCount == 1)
    }

    @Test("hot-cache hits are checked byte for byte for small requests and by digest for large ones")
    func hotCacheChecksSmallAndLargeBodies() async throws {
        for size in [16, 10_000] {
            let harness = Harness(configuration: IdempotencyConfiguration(hotCacheBytes: 1 << 20))
            let body = String(repeating: "A", count: size)
            let (original, first) = await harness.send(makeRequest(body: body))
            #expect(first == .forwarded)
            let (replay, again) = await harness.send(makeRequest(body: body))
            #expect(again == .replayed)
            #expect(replay.body == original.body)
            // The same length with one byte changed, at the end (past any prefix a shortcut might compare).
            let (_, changed) = await harness.send(makeRequest(body: String(body.dropLast()) + "B"))
            #expect(changed == .mismatch)
            #expect(harness.backend.callCount == 1)
        }
    }

    @Test func scopesSeparatePrincipals() async throws {
        let harness = Harness()
        let alice = makeRequest(headers: [(.authorization, "Bearer alice")])
        let bob = makeRequest(headers: [(.authorization, "Bearer bob")])
        let (_, a) = await harness.send(alice)
        let (_, b) = await harness.send(bob)
        #expect(a == .forwarded && b == .forwarded)
        #expect(harness.backend.callCount == 2)
        let (replay, again) = await harness.send(alice)
        #expect(again == .replayed)
        #expect(replay.bodyString.contains("order-1"))
        // The credential is not stored in clear.
        for record in harness.store.state.withLock({ Array($0.records.values) }) {
            #expect(!record.key.scope.contains("alice") && !record.key.scope.contains("bob"))
            #expect(record.key.scope.count == 64)
        }
    }

    @Test func hopByHopAndSetCookieAreNotReplayedButReachTheFirstClient() async throws {
        let backend = TestBackend { _, _ in
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            fields[.setCookie] = "session=secret"
            fields[.connection] = "X-Private, keep-alive"
            fields[HTTPField.Name("X-Private")!] = "hop"
            fields[HTTPField.Name("Keep-Alive")!] = "timeout=5"
            fields[.proxyAuthenticate] = "Basic"
            fields[.contentLength] = "2"
            fields[.eTag] = #""v1""#
            fields.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "1"))
            fields.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "2"))
            return GatewayResponse(status: .accepted, headerFields: fields, body: Array("{}".utf8))
        }
        let harness = Harness(backend: backend)
        let (first, _) = await harness.send()
        #expect(first.header(.setCookie) == "session=secret")
        #expect(first.header(.connection) != nil)

        let stored = try #require(try await harness.engine.record(for: RecordKey(scope: "", key: "abc-123"))?.response)
        #expect(stored.fields.map(\.name) == ["Content-Type", "ETag", "X-Multi", "X-Multi"])

        let (replay, _) = await harness.send()
        #expect(replay.head.status == .accepted)
        #expect(replay.header(.setCookie) == nil)
        #expect(replay.header(.connection) == nil)
        #expect(replay.header(HTTPField.Name("X-Private")!) == nil)
        #expect(replay.header(.proxyAuthenticate) == nil)
        #expect(replay.header(.eTag) == #""v1""#)
        #expect(replay.head.headerFields[values: HTTPField.Name("X-Multi")!] == ["1", "2"])
        #expect(replay.body == Array("{}".utf8))
    }
}
