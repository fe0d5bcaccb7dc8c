import GatewayHTTP
import GatewayStore
import HTTPTypes
import Idempotency
import Testing
import TestSupport

@Suite("Engine: expiry, caches, limits, store outages")
struct EngineLifecycleTests {
    @Test func completedRecordsExpireAfterTheTTL() async throws {
        let harness = Harness(configuration: IdempotencyConfiguration(ttl: .seconds(10)))
        _ = await harness.send()
        harness.clock.advance(seconds: 9)
        #expect(await harness.send().1 == .replayed)
        harness.clock.advance(seconds: 1)
        let (fresh, outcome) = await harness.send()
        #expect(outcome == .forwarded)
        #expect(fresh.bodyString.contains("order-2"))
        #expect(harness.backend.callCount == 2)
    }

    @Test func routeTTLOverridesTheDefault() async {
        let harness = Harness(
            configuration: IdempotencyConfiguration(routes: [.init(pathPrefix: "/orders", ttl: .seconds(5))]))
        _ = await harness.send()
        harness.clock.advance(seconds: 5)
        #expect(await harness.send().1 == .forwarded)
    }

    /// A completed record for `key` (no scope) that expires at `expiresAt`, created 10 ms before it.
    private func completed(_ key: String, expiresAt: Timestamp) -> IdempotencyRecord {
        IdempotencyRecord(
            key: RecordKey(scope: "", key: key), state: .completed, fingerprint: [], owner: .random(),
            createdAt: expiresAt - 10, leaseExpiresAt: expiresAt - 10, expiresAt: expiresAt, method: "POST", path: "/",
            response: StoredResponse(status: 200, fields: [], body: []))
    }

    @Test func sweepDeletesExpiredRecordsInBatchesAndRebuildsTheBloomFilter() async throws {
        let store = TestKeyStore()
        // 1200 deletions reach a tenth of 10 000 expected keys: the filter is rebuilt.
        let harness = Harness(
            configuration: IdempotencyConfiguration(bloomExpectedKeys: 10_000, sweepBatch: 500), store: store)
        let now = harness.clock.now
        for i in 0..<1200 { store.insert(completed("old-\(i)", expiresAt: now - 1)) }
        store.insert(completed("live", expiresAt: now + 1000))
        try await harness.engine.start()
        #expect(harness.engine.bloomFilter.contains(RecordKey(scope: "", key: "old-7")))
        #expect(harness.engine.bloomFilter.contains(RecordKey(scope: "", key: "live")))

        let deleted = await harness.engine.sweepExpired()
        #expect(deleted == 1200)
        #expect(store.calls("deleteExpired") == 3)
        #expect(store.count == 1)
        #expect(harness.engine.bloomFilter.contains(RecordKey(scope: "", key: "live")))
        #expect(!harness.engine.bloomFilter.contains(RecordKey(scope: "", key: "old-7")))
        #expect(store.calls("forEachKey") == 2, "at start and after the sweep")
        await harness.engine.shutdown()
    }

    @Test func aSweepOfFewRecordsLeavesTheBloomFilterAsItIs() async throws {
        // Rebuilding reads every key; a handful of deleted keys in the filter only cost a lookup each.
        let store = TestKeyStore()
        let harness = Harness(configuration: IdempotencyConfiguration(bloomExpectedKeys: 10_000), store: store)
        let now = harness.clock.now
        for i in 0..<50 { store.insert(completed("old-\(i)", expiresAt: now - 1)) }
        try await harness.engine.start()
        #expect(await harness.engine.sweepExpired() == 50)
        #expect(store.calls("forEachKey") == 1, "only at start")
        #expect(harness.engine.bloomFilter.contains(RecordKey(scope: "", key: "old-7")))
        await harness.engine.shutdown()
    }

    @Test func backgroundSweepRuns() async throws {
        let harness = Harness(
            configuration: IdempotencyConfiguration(ttl: .seconds(1), sweepInterval: .milliseconds(20)))
        try await harness.engine.start()
        _ = await harness.send()
        #expect(harness.store.count == 1)
        harness.clock.advance(seconds: 2)
        #expect(await eventually { harness.store.count == 0 })
        await harness.engine.shutdown()
    }

    @Test func replayStormNeverTouchesTheStore() async {
        let harness = Harness()
        let (first, _) = await harness.send()
        harness.store.resetCalls()
        await withTaskGroup(of: IdempotencyOutcome.self) { group in
            for _ in 0..<1000 { group.addTask { await harness.send().1 } }
            for await outcome in group { #expect(outcome == .replayed) }
        }
        #expect(harness.store.totalCalls == 0)
        #expect(harness.backend.callCount == 1)
        #expect(await harness.send().0.body == first.body)
    }

    @Test func hotCacheEntriesExpireWithTheRecord() async {
        let harness = Harness(configuration: IdempotencyConfiguration(ttl: .seconds(10)))
        _ = await harness.send()
        harness.clock.advance(seconds: 10)
        harness.store.resetCalls()
        #expect(await harness.send().1 == .forwarded)
        #expect(harness.store.calls("claim") == 1)
    }

    @Test func deleteKeyRemovesTheRecordAndTheHotCacheEntry() async throws {
        let harness = Harness()
        _ = await harness.send()
        let key = RecordKey(scope: "", key: "abc-123")
        #expect(try await harness.engine.deleteKey(key))
        #expect(try await !harness.engine.deleteKey(key))
        #expect(harness.engine.hotCache.count == 0)
        let (_, outcome) = await harness.send()
        #expect(outcome == .forwarded)
        #expect(harness.backend.callCount == 2)
    }

    @Test func bloomCounters() async {
        let harness = Harness(configuration: IdempotencyConfiguration(hotCacheBytes: 0))
        _ = await harness.send()
        #expect(harness.engine.bloomNegatives == 1)
        _ = await harness.send()
        #expect(harness.engine.bloomPositives == 1)

        // A filter sized for one key saturates quickly and reports false positives.
        let tiny = Harness(configuration: IdempotencyConfiguration(bloomExpectedKeys: 1, bloomFalsePositiveRate: 0.5))
        for i in 0..<50 { _ = await tiny.send(makeRequest(key: "k\(i)")) }
        #expect(tiny.engine.bloomFalsePositives > 0)
        #expect(tiny.engine.bloomFalsePositives + tiny.engine.bloomNegatives == 50)
        #expect(tiny.backend.callCount == 50)
    }

    @Test(arguments: [true, false])
    func oversizedResponsesLeaveABodylessRecord(hotCache: Bool) async throws {
        let big = [UInt8](repeating: 0x78, count: 4096)
        let backend = TestBackend { _, _ in
            var fields = HTTPFields()
            fields[.contentType] = "application/octet-stream"
            fields[.contentEncoding] = "gzip"
            fields[.location] = "/files/1"
            return GatewayResponse(status: .created, headerFields: fields, body: big)
        }
        let harness = Harness(
            configuration: IdempotencyConfiguration(
                maxStoredResponseBytes: 1024, hotCacheBytes: hotCache ? 1 << 20 : 0),
            backend: backend)
        let (first, outcome) = await harness.send()
        #expect(outcome == .forwarded)
        #expect(first.body == big)
        #expect(first.header(.contentType) == "application/octet-stream")

        let stored = try #require(try await harness.engine.record(for: RecordKey(scope: "", key: "abc-123"))?.response)
        #expect(stored.body.isEmpty)

        let (replay, replayed) = await harness.send()
        #expect(replayed == .replayed)
        #expect(replay.head.status == .created)
        #expect(replay.body.isEmpty)
        #expect(replay.header(IdempotencyHeaders.idempotentReplayed) == "true")
        #expect(replay.header(IdempotencyHeaders.idempotentReplayBody) == "omitted")
        #expect(replay.header(.contentType) == nil)
        #expect(replay.header(.contentEncoding) == nil)
        #expect(replay.header(.location) == "/files/1")
        #expect(harness.backend.callCount == 1)
    }

    @Test func storeOutageFailsClosedWith503() async throws {
        let harness = Harness()
        harness.store.fail(with: .database(code: 10, message: "disk I/O error"))
        let (response, outcome) = await harness.send()
        #expect(outcome == .storeError)
        #expect(response.head.status == .serviceUnavailable)
        #expect(response.header(.retryAfter) == "1")
        #expect((try problemJSON(response)["type"] as? String)?.hasSuffix("#problem-store-unavailable") == true)
        #expect(harness.backend.callCount == 0)
        harness.store.fail(with: nil)
        #expect(await harness.send().1 == .forwarded)
    }

    @Test func storeOutageFailsOpenWhenConfigured() async {
        let harness = Harness(configuration: IdempotencyConfiguration(failOpen: true))
        harness.store.fail(with: .closed)
        let (response, outcome) = await harness.send()
        #expect(outcome == .failOpen)
        #expect(response.head.status == .created)
        #expect(response.header(IdempotencyHeaders.idempotencyDegraded) == "true")
        #expect(harness.backend.callCount == 1)
    }

    @Test func storeErrorWhileCompletingStillAnswersAndStoringIsRetried() async {
        let harness = Harness()
        harness.store.fail(with: .database(code: 13, message: "full"), operations: ["complete"])
        let (response, outcome) = await harness.send()
        // The upstream acted: the client gets its answer, marked as not (yet) protected.
        #expect(outcome == .forwarded)
        #expect(response.head.status == .created)
        #expect(response.header(IdempotencyHeaders.idempotencyDegraded) == "true")
        // While the store fails the key stays in flight.
        #expect(await harness.send().1 == .conflict)
        #expect(harness.store.calls("complete") >= 1)
        // Once the store recovers, the background retry stores the response and retries replay it.
        harness.store.fail(with: nil)
        #expect(await eventually(timeout: .seconds(10)) { await harness.send().1 == .replayed })
        let replay = await harness.send().0
        #expect(replay.header(IdempotencyHeaders.idempotentReplayed) == "true")
        #expect(replay.body == response.body)
        #expect(replay.header(IdempotencyHeaders.idempotencyDegraded) == nil, "the stored response is the upstream's")
        #expect(harness.backend.callCount == 1)
    }

    @Test func aDeletionByAnotherProcessIsSeenWithinTheHotCachesMaxAge() async {
        let harness = Harness()
        #expect(await harness.send().1 == .forwarded)
        #expect(await harness.send().1 == .replayed)
        // As `keys delete` or another gateway on the same file would: behind this engine's back.
        harness.store.state.withLock { $0.records.removeAll() }
        #expect(await harness.send().1 == .replayed, "still cached")
        #expect(harness.store.calls("record") == 0)
        harness.clock.advance(milliseconds: 1000)  // IdempotencyConfiguration.hotCacheMaxAge's default
        // The first use after the max age checks the entry in the background (a store read) and is still served.
        #expect(await harness.send().1 == .replayed)
        #expect(await eventually(timeout: .seconds(10)) { harness.store.calls("record") == 1 })
        #expect(await eventually(timeout: .seconds(10)) { await harness.send().1 == .forwarded }, "the key is new")
        #expect(harness.backend.callCount == 2)
    }

    @Test func aHotCacheEntryStillInTheStoreIsRenewed() async {
        let harness = Harness()
        #expect(await harness.send().1 == .forwarded)
        harness.clock.advance(milliseconds: 1000)
        #expect(await harness.send().1 == .replayed)
        #expect(await eventually(timeout: .seconds(10)) { harness.store.calls("record") == 1 })
        // Renewed: no further check until the max age has passed again.
        for _ in 0..<5 { #expect(await harness.send().1 == .replayed) }
        #expect(harness.store.calls("record") == 1)
        #expect(harness.store.calls("claim") == 1)
        #expect(harness.backend.callCount == 1)
    }

    @Test func aResponseNeverStoredBeforeTheLeaseEndsIsForwardedAgainAfterIt() async {
        // At least once after a lease ended without a stored response (README, Guarantees).
        var configuration = IdempotencyConfiguration()
        configuration.lease = .milliseconds(300)
        let harness = Harness(configuration: configuration)
        harness.store.fail(with: .database(code: 13, message: "full"), operations: ["complete"])
        #expect(await harness.send().1 == .forwarded)
        try? await Task.sleep(for: .milliseconds(600))  // the background retry gives up at the lease's end
        harness.store.fail(with: nil)
        harness.clock.advance(milliseconds: 1000)
        #expect(await harness.send().1 == .forwarded)
        #expect(harness.backend.callCount == 2)
    }

    @Test func handleReturnsTheResponse() async throws {
        let harness = Harness()
        let response = try await harness.engine.handle(makeRequest())
        #expect(response.head.status == .created)
    }
}
