import GatewayHTTP
import GatewayStore
import HTTPTypes
import Idempotency
import Testing
import TestSupport

@Suite("Engine: concurrency and leases")
struct EngineConcurrencyTests {
    @Test("100 concurrent duplicates: one backend call, 99 conflicts")
    func concurrentDuplicates() async throws {
        let gate = Gate()
        let backend = TestBackend { call, _ in
            await gate.wait()
            return TestBackend.created("order-\(call)")
        }
        let harness = Harness(backend: backend)
        var outcomes: [IdempotencyOutcome] = []
        var responses: [GatewayResponse] = []
        await withTaskGroup(of: (GatewayResponse, IdempotencyOutcome).self) { group in
            for _ in 0..<100 { group.addTask { await harness.send() } }
            while let (response, outcome) = await group.next() {
                outcomes.append(outcome)
                responses.append(response)
                if outcomes.count == 99 { gate.open() }
            }
        }
        #expect(harness.backend.callCount == 1)
        #expect(outcomes.filter { $0 == .conflict }.count == 99)
        #expect(outcomes.filter { $0 == .forwarded }.count == 1)
        let conflict = try #require(responses.first { $0.head.status == .conflict })
        #expect(conflict.header(.retryAfter) == "60")
        #expect(conflict.header(.contentType) == "application/problem+json")
        let json = try problemJSON(conflict)
        #expect(
            json["detail"] as? String == "Your request with idempotency key 'abc-123' is currently being processed.")
        #expect((json["type"] as? String)?.hasSuffix("#problem-key-in-flight") == true)
        #expect(harness.engine.inFlightCount == 0)
    }

    @Test func retryAfterIsTheRemainingLeaseRoundedUpAtLeastOne() async throws {
        let gate = Gate()
        let harness = Harness(
            backend: TestBackend { _, _ in
                await gate.wait()
                return TestBackend.created("x")
            })
        let original = Task { await harness.send() }
        #expect(await eventually { harness.backend.callCount == 1 })

        harness.clock.advance(milliseconds: 200)  // 59.8 s left
        #expect(await harness.send().0.header(.retryAfter) == "60")
        harness.clock.advance(milliseconds: 58_900)  // 0.9 s left
        #expect(await harness.send().0.header(.retryAfter) == "1")
        harness.clock.advance(milliseconds: 899)  // 1 ms left
        #expect(await harness.send().0.header(.retryAfter) == "1")
        // A different request with the key while in flight: mismatch wins over conflict.
        #expect(await harness.send(makeRequest(body: "other")).1 == .mismatch)
        gate.open()
        #expect(await original.value.1 == .forwarded)
    }

    @Test("lease takeover: a new owner forwards again and the stale owner cannot overwrite")
    func leaseTakeover() async throws {
        let gate = Gate()
        let backend = TestBackend { call, _ in
            if call == 1 { await gate.wait() }
            return TestBackend.created("order-\(call)")
        }
        let harness = Harness(
            configuration: IdempotencyConfiguration(upstreamTimeout: .seconds(3)), backend: backend)
        let (timedOut, first) = await harness.send()
        #expect(timedOut.head.status == .gatewayTimeout)
        #expect(first == .forwarded)
        #expect(await harness.send().1 == .conflict)

        harness.clock.advance(seconds: 61)  // the lease ended without a response
        let (second, outcome) = await harness.send()
        #expect(outcome == .forwarded)
        #expect(second.bodyString.contains("order-2"))
        #expect(harness.backend.callCount == 2)

        gate.open()  // the stale first exchange finally answers
        #expect(await eventually { harness.store.rejectedCompletes == 1 })
        #expect(await eventually { harness.metrics.value(IdempotencyMetricNames.staleOwner) == 1 })
        #expect(await eventually { harness.engine.inFlightCount == 0 })
        let record = try #require(try await harness.engine.record(for: RecordKey(scope: "", key: "abc-123")))
        #expect(record.response.map { String(decoding: $0.body, as: UTF8.self) }?.contains("order-2") == true)
        let (replay, replayed) = await harness.send()
        #expect(replayed == .replayed)
        #expect(replay.bodyString.contains("order-2"))
    }

    @Test("a client that disconnects does not abort the upstream; the response is stored")
    func clientDisconnect() async throws {
        let gate = Gate()
        let harness = Harness(
            backend: TestBackend { call, _ in
                await gate.wait()
                return TestBackend.created("order-\(call)")
            })
        let client = Task { await harness.send() }
        #expect(await eventually { harness.backend.callCount == 1 })
        client.cancel()
        _ = await client.value
        gate.open()
        #expect(
            await eventually {
                (try? await harness.engine.record(for: RecordKey(scope: "", key: "abc-123")))??.state == .completed
            })
        let (replay, outcome) = await harness.send()
        #expect(outcome == .replayed)
        #expect(replay.bodyString.contains("order-1"))
        #expect(harness.backend.callCount == 1)
    }

    @Test("upstream timeout: 504, then the background response is stored and replayed to the retry")
    func timeoutThenBackgroundCompletion() async throws {
        let gate = Gate()
        let backend = TestBackend { call, request in
            #expect(request.upstreamDeadline != nil)
            await gate.wait()
            return TestBackend.created("order-\(call)")
        }
        let harness = Harness(
            configuration: IdempotencyConfiguration(upstreamTimeout: .seconds(3)), backend: backend)
        let (response, outcome) = await harness.send()
        #expect(response.head.status == .gatewayTimeout)
        #expect(outcome == .forwarded)
        #expect((try problemJSON(response)["type"] as? String)?.hasSuffix("#problem-upstream-timeout") == true)
        #expect(await harness.send().1 == .conflict)
        gate.open()
        #expect(await eventually { harness.engine.inFlightCount == 0 })
        let (replay, replayed) = await harness.send()
        #expect(replayed == .replayed)
        #expect(replay.head.status == .created)
        #expect(replay.bodyString.contains("order-1"))
        #expect(harness.backend.callCount == 1)
    }
}

@Suite("Engine: takeover and payloads")
struct EngineTakeoverPayloadTests {
    @Test("after the lease ends, a different payload under the key is 422, not a takeover")
    func expiredLeaseDifferentPayload() async throws {
        let gate = Gate()
        let harness = Harness(
            configuration: IdempotencyConfiguration(upstreamTimeout: .seconds(3)),
            backend: TestBackend { call, _ in
                if call == 1 { await gate.wait() }
                return TestBackend.created("order-\(call)")
            })
        #expect(await harness.send().1 == .forwarded)  // 504: the first exchange hangs
        harness.clock.advance(seconds: 61)  // its lease ends without a response
        let (response, outcome) = await harness.send(makeRequest(body: #"{"amount":999}"#))
        #expect(outcome == .mismatch)
        #expect(response.head.status == .unprocessableContent)
        #expect(harness.backend.callCount == 1)
        gate.open()
    }
}

@Suite("Engine: in-flight cap")
struct EngineInFlightCapTests {
    @Test func beyondMaxInFlightANewKeyGets503BeforeItIsClaimed() async {
        var configuration = IdempotencyConfiguration()
        configuration.maxInFlight = 2
        let gate = Gate()
        let harness = Harness(configuration: configuration, backend: TestBackend { call, _ in
            await gate.wait()
            return TestBackend.created("order-\(call)")
        })
        async let first = harness.send(makeRequest(key: "a"))
        async let second = harness.send(makeRequest(key: "b"))
        #expect(await eventually { harness.engine.inFlightCount == 2 })
        let (refused, outcome) = await harness.send(makeRequest(key: "c"))
        #expect(outcome == .overloaded)
        #expect(refused.head.status == .serviceUnavailable)
        #expect(refused.header(HTTPField.Name.retryAfter) == "1")
        #expect(refused.bodyString.contains("problem-too-many-in-flight"))
        #expect(harness.store.calls("claim") == 2, "the refused key was not claimed")
        gate.open()
        #expect(await first.1 == .forwarded)
        #expect(await second.1 == .forwarded)
        // Room again: the same key goes through.
        #expect(await harness.send(makeRequest(key: "c")).1 == .forwarded)
    }

    /// At the cap a key the store already knows is answered as usual, from the store (the hot cache is off here): a
    /// duplicate of one in flight gets 409 with its lease, a completed one its replay, another request under it 422.
    @Test func atMaxInFlightKnownKeysAreStillAnswered() async {
        var configuration = IdempotencyConfiguration()
        configuration.maxInFlight = 1
        configuration.hotCacheBytes = 0
        let gate = Gate()
        let harness = Harness(configuration: configuration, backend: TestBackend { call, _ in
            if call == 2 { await gate.wait() }
            return TestBackend.created("order-\(call)")
        })
        #expect(await harness.send(makeRequest(key: "done")).1 == .forwarded)
        async let running = harness.send(makeRequest(key: "running"))
        // Claimed and at the backend (the forwarding task may start a moment after the claim).
        #expect(await eventually { harness.engine.inFlightCount == 1 && harness.backend.callCount == 2 })

        let (duplicate, duplicateOutcome) = await harness.send(makeRequest(key: "running"))
        #expect(duplicateOutcome == .conflict)
        #expect(duplicate.head.status == .conflict)
        #expect(Int(duplicate.header(HTTPField.Name.retryAfter) ?? "") ?? 0 > 1, "the lease, not the 503's 1 s")
        let (replay, replayOutcome) = await harness.send(makeRequest(key: "done"))
        #expect(replayOutcome == .replayed)
        #expect(replay.head.status == .created)
        #expect(await harness.send(makeRequest(key: "done", body: #"{"amount":7}"#)).1 == .mismatch)
        #expect(await harness.send(makeRequest(key: "new")).1 == .overloaded)
        #expect(harness.backend.callCount == 2)

        // A store that fails the read of a known key: answered as a store error (503, the store's problem), not
        // as the overload, and nothing reaches the backend.
        harness.store.fail(with: .database(code: 10, message: "disk I/O error"), operations: ["record"])
        let (failed, failedOutcome) = await harness.send(makeRequest(key: "done"))
        #expect(failedOutcome == .storeError)
        #expect(failed.head.status == .serviceUnavailable)
        #expect(failed.header(HTTPField.Name.retryAfter) == "1")
        #expect(failed.bodyString.contains("problem-store-unavailable"))
        #expect(harness.backend.callCount == 2)
        harness.store.fail(with: nil)

        gate.open()
        #expect(await running.1 == .forwarded)
    }
}
