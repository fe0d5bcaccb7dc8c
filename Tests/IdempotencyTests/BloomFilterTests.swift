import GatewayStore
import Idempotency
import Testing
import TestSupport

@Suite("Bloom filter")
struct BloomFilterTests {
    @Test func sizing() {
        let filter = BloomFilterEngine(expectedKeys: 1_000_000, falsePositiveRate: 0.001)
        // m = -n ln p / (ln 2)^2 ≈ 14,377,588; k = m/n ln 2 ≈ 10.
        #expect(abs(filter.bitCount - 14_377_588) < 10)
        #expect(filter.hashCount == 10)
    }

    @Test("false-positive rate within 2x of the target at 1M keys, no false negatives")
    func falsePositiveRate() async throws {
        let n = 1_000_000
        let p = 0.001
        let queries = 200_000
        let (falseNegatives, falsePositives) = await offPool {
            var filter = BloomFilterEngine(expectedKeys: n, falsePositiveRate: p)
            for i in 0..<n { filter.insert(RecordKey(scope: "s", key: "present-\(i)")) }
            var falseNegatives = 0
            for i in 0..<n where !filter.contains(RecordKey(scope: "s", key: "present-\(i)")) { falseNegatives += 1 }
            var falsePositives = 0
            for i in 0..<queries where filter.contains(RecordKey(scope: "s", key: "absent-\(i)")) { falsePositives += 1 }
            return (falseNegatives, falsePositives)
        }
        #expect(falseNegatives == 0)
        let rate = Double(falsePositives) / Double(queries)
        #expect(rate <= 2 * p, "false-positive rate \(rate)")
    }

    @Test func seedsDifferPerInstance() {
        // Two full filters sized alike place the same keys differently (per-instance random seeds), so their
        // false positives (about 1% each) fall on different queries.
        var a = BloomFilterEngine(expectedKeys: 100, falsePositiveRate: 0.01)
        var b = BloomFilterEngine(expectedKeys: 100, falsePositiveRate: 0.01)
        for i in 0..<100 {
            a.insert(RecordKey(scope: "", key: "k\(i)"))
            b.insert(RecordKey(scope: "", key: "k\(i)"))
        }
        var disagreements = 0
        for i in 0..<5000 {
            let key = RecordKey(scope: "", key: "q\(i)")
            if a.contains(key) != b.contains(key) { disagreements += 1 }
        }
        #expect(disagreements > 0)
    }

    @Test func wrapperInsertContainsResetAndCounters() async {
        let filter = BloomFilter(expectedKeys: 1000, falsePositiveRate: 0.001)
        let key = RecordKey(scope: "scope", key: "k")
        #expect(!filter.contains(key))
        filter.insert(key)
        #expect(filter.contains(key))
        filter.reset()
        #expect(!filter.contains(key))
        filter.count(.negative)
        filter.count(.positive)
        filter.count(.falsePositive)
        filter.count(.falsePositive)
        #expect(filter.negativeCount == 1 && filter.positiveCount == 1 && filter.falsePositiveCount == 2)
    }

    @Test func rebuildReplacesContentsButKeepsConcurrentInserts() async throws {
        let filter = BloomFilter(expectedKeys: 1000, falsePositiveRate: 0.001)
        let old = RecordKey(scope: "", key: "old")
        let during = RecordKey(scope: "", key: "during")
        let stored = RecordKey(scope: "", key: "stored")
        filter.insert(old)
        try await filter.rebuild { body in
            try body(stored)
            filter.insert(during)  // inserted while the rebuild runs
        }
        #expect(filter.contains(stored))
        #expect(filter.contains(during))
        #expect(!filter.contains(old))
    }
}
