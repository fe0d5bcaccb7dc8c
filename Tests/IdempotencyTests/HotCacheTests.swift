import GatewayHTTP
import GatewayStore
import Idempotency
import Testing

@Suite("Hot cache")
struct HotCacheTests {
    func entry(bytes: Int, expiresAt: Timestamp = 10_000) -> HotCache.Entry {
        HotCache.Entry(
            fingerprint: [UInt8](repeating: 1, count: 32), expiresAt: expiresAt,
            replay: GatewayResponse(status: .ok, body: [UInt8](repeating: 0x61, count: bytes)))
    }

    @Test("with a max age, an entry is due a check that long after it was cached or renewed; one caller gets it")
    func maxAge() throws {
        let cache = HotCache(capacity: 1 << 20, maxAge: 1000)
        let key = RecordKey(scope: "", key: "aged")
        cache.insert(entry(bytes: 10, expiresAt: 100_000), for: key, now: 5000)
        let held = try #require(cache.held(for: key, now: 5999))
        #expect(!held.claimRefresh(now: 5999))
        // Due: still served, and exactly one caller is asked to check it.
        #expect(cache.held(for: key, now: 6000) != nil)
        #expect(held.claimRefresh(now: 6000))
        #expect(!held.claimRefresh(now: 6001), "a check is already running")
        cache.renew(held, now: 6500)
        #expect(!held.claimRefresh(now: 7499))
        #expect(held.claimRefresh(now: 7500))
        // The expiry still ends it, and without a time it is never due.
        #expect(cache.held(for: key, now: 100_000) == nil)
        cache.insert(entry(bytes: 10, expiresAt: 100_000), for: key)
        #expect(try #require(cache.held(for: key, now: 99_999)).claimRefresh(now: 99_999) == false)
    }

    @Test func boundedByBytesEvictingLeastRecentlyUsed() {
        let cache = HotCache(capacity: 20_000)
        let first = RecordKey(scope: "", key: "k0")
        for i in 0..<100 {
            cache.insert(entry(bytes: 1000), for: RecordKey(scope: "", key: "k\(i)"))
            // Keep k0 recently used.
            _ = cache.entry(for: first, now: 0)
            #expect(cache.totalBytes <= cache.capacity)
        }
        #expect(cache.count < 100)
        #expect(cache.count >= 10)
        #expect(cache.entry(for: first, now: 0) != nil)
        #expect(cache.entry(for: RecordKey(scope: "", key: "k1"), now: 0) == nil)
        #expect(cache.entry(for: RecordKey(scope: "", key: "k99"), now: 0) != nil)
    }

    @Test func entriesLargerThanTheBudgetAreNotCached() {
        let cache = HotCache(capacity: 1000)
        cache.insert(entry(bytes: 5000), for: RecordKey(scope: "", key: "big"))
        #expect(cache.count == 0 && cache.totalBytes == 0)
    }

    @Test func expiryAndInvalidation() {
        let cache = HotCache(capacity: 100_000)
        let key = RecordKey(scope: "s", key: "k")
        cache.insert(entry(bytes: 10, expiresAt: 500), for: key)
        #expect(cache.entry(for: key, now: 499) != nil)
        #expect(cache.entry(for: key, now: 500) == nil)
        #expect(cache.count == 0)
        cache.insert(entry(bytes: 10, expiresAt: 500), for: key)
        cache.invalidate(key)
        #expect(cache.entry(for: key, now: 0) == nil)
        #expect(cache.totalBytes == 0)
    }

    @Test func replacingAnEntryKeepsTheAccountingRight() {
        let cache = HotCache(capacity: 100_000)
        let key = RecordKey(scope: "", key: "k")
        cache.insert(entry(bytes: 1000), for: key)
        let once = cache.totalBytes
        cache.insert(entry(bytes: 1000), for: key)
        #expect(cache.totalBytes == once)
        #expect(cache.count == 1)
    }
}

@Suite("Hot cache generations")
struct HotCacheGenerationTests {
    @Test("an insert prepared before an invalidation does not land after it")
    func staleInsertIsDropped() {
        let cache = HotCache(capacity: 1 << 20)
        let key = RecordKey(scope: "", key: "k")
        let entry = HotCache.Entry(
            fingerprint: [1], expiresAt: .max, replay: GatewayResponse(status: .ok, body: Array("x".utf8)))
        let before = cache.generation
        cache.invalidate(key)  // an admin delete while the replay was being prepared
        cache.insert(entry, for: key, ifGeneration: before)
        #expect(cache.entry(for: key, now: 0) == nil)
        cache.insert(entry, for: key, ifGeneration: cache.generation)
        #expect(cache.entry(for: key, now: 0) != nil)
    }
}
