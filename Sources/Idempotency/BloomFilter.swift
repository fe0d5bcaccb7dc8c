import GatewayStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A Bloom filter over record keys: "certainly never seen" or "maybe seen".
///
/// The engine asks it before claiming a key; "certainly absent" lets the store try a plain insert first
/// (``KeyStore/claim(_:likelyNew:)``). It is only a hint: the store decides, so a wrong answer costs time, never
/// correctness. Keys are attacker-controlled, so positions come from two independently seeded 64-bit hashes
/// (Swift's SipHash `Hasher`, randomly seeded per process, with two random per-instance seeds mixed in) combined
/// by double hashing, `h1 + i·h2` (Kirsch–Mitzenmacher); an attacker cannot precompute colliding keys.
///
/// Sizing for `n` expected keys at false-positive rate `p`: `m = -n·ln p / (ln 2)²` bits and
/// `k = m/n · ln 2` hash functions (1,000,000 keys at 0.001 take 14.4 Mbit ≈ 1.8 MB and 10 hashes).
public struct BloomFilterEngine: Sendable {
    /// Number of bits.
    public let bitCount: Int
    /// Number of hash functions.
    public let hashCount: Int
    private var words: [UInt64]
    private let seed1: UInt64
    private let seed2: UInt64

    /// Sizes the filter for `expectedKeys` at `falsePositiveRate`.
    public init(expectedKeys: Int, falsePositiveRate: Double) {
        let n = Double(max(expectedKeys, 1))
        let p = min(max(falsePositiveRate, 1e-12), 0.5)
        let ln2 = 0.693_147_180_559_945_3
        let m = max(64, Int((-n * log(p) / (ln2 * ln2)).rounded(.up)))
        bitCount = m
        hashCount = max(1, Int((Double(m) / n * ln2).rounded()))
        words = [UInt64](repeating: 0, count: (m + 63) / 64)
        var random = SystemRandomNumberGenerator()
        seed1 = random.next()
        seed2 = random.next()
    }

    /// Adds `key`.
    public mutating func insert(_ key: RecordKey) {
        let (h1, h2) = hashes(key)
        var h = h1
        for _ in 0..<hashCount {
            let bit = Int(h % UInt64(bitCount))
            words[bit >> 6] |= 1 << UInt64(bit & 63)
            h &+= h2
        }
    }

    /// Whether `key` may have been inserted (`false`: certainly not).
    public func contains(_ key: RecordKey) -> Bool {
        let (h1, h2) = hashes(key)
        var h = h1
        for _ in 0..<hashCount {
            let bit = Int(h % UInt64(bitCount))
            if words[bit >> 6] & (1 << UInt64(bit & 63)) == 0 { return false }
            h &+= h2
        }
        return true
    }

    /// Clears every bit.
    public mutating func reset() {
        for index in words.indices { words[index] = 0 }
    }

    private func hashes(_ key: RecordKey) -> (UInt64, UInt64) {
        var a = Hasher()
        a.combine(seed1)
        a.combine(key.scope)
        a.combine(key.key)
        var b = Hasher()
        b.combine(seed2)
        b.combine(key.key)
        b.combine(key.scope)
        // An odd step visits distinct positions for any power-of-two-free modulus more evenly.
        return (UInt64(bitPattern: Int64(a.finalize())), UInt64(bitPattern: Int64(b.finalize())) | 1)
    }
}

/// What a Bloom lookup turned out to be, once the store answered.
public enum BloomResult: String, Sendable, CaseIterable {
    /// The filter said "certainly absent".
    case negative
    /// The filter said "maybe" and the store had a record.
    case positive
    /// The filter said "maybe" but the store had no record.
    case falsePositive = "false_positive"
}

/// The thread-safe Bloom filter the engine uses: a ``BloomFilterEngine`` behind a `Mutex`, with counters.
///
/// ``rebuild(from:)`` fills a fresh engine from the store while inserts keep going to both the old and the new
/// one, so the filter never forgets a key it was told about during the rebuild (it stays conservative).
public final class BloomFilter: Sendable {
    private struct State {
        var current: BloomFilterEngine
        var next: BloomFilterEngine?
    }

    private let state: Mutex<State>
    private let expectedKeys: Int
    private let falsePositiveRate: Double
    private let negatives = Atomic<Int>(0)
    private let positives = Atomic<Int>(0)
    private let falsePositives = Atomic<Int>(0)

    public init(expectedKeys: Int, falsePositiveRate: Double) {
        self.expectedKeys = expectedKeys
        self.falsePositiveRate = falsePositiveRate
        state = Mutex(
            State(current: BloomFilterEngine(expectedKeys: expectedKeys, falsePositiveRate: falsePositiveRate)))
    }

    public func insert(_ key: RecordKey) {
        state.withLock { state in
            state.current.insert(key)
            state.next?.insert(key)
        }
    }

    public func contains(_ key: RecordKey) -> Bool {
        state.withLock { $0.current.contains(key) }
    }

    /// Clears the filter (every key is then "certainly absent" until inserted again).
    public func reset() {
        state.withLock { state in
            state.current.reset()
            state.next?.reset()
        }
    }

    /// Replaces the contents with the keys `forEachKey` yields (normally ``KeyStore/forEachKey(_:)``).
    /// On error the old contents stay.
    public func rebuild(
        from forEachKey: (_ body: (RecordKey) throws -> Void) async throws -> Void
    ) async rethrows {
        let fresh = BloomFilterEngine(expectedKeys: expectedKeys, falsePositiveRate: falsePositiveRate)
        state.withLock { $0.next = fresh }
        do {
            var batch: [RecordKey] = []
            batch.reserveCapacity(1024)
            try await forEachKey { key in
                batch.append(key)
                if batch.count == 1024 {
                    let keys = batch
                    state.withLock { state in for key in keys { state.next?.insert(key) } }
                    batch.removeAll(keepingCapacity: true)
                }
            }
            let keys = batch
            state.withLock { state in
                for key in keys { state.next?.insert(key) }
                if let next = state.next { state.current = next }
                state.next = nil
            }
        } catch {
            state.withLock { $0.next = nil }
            throw error
        }
    }

    /// Counts one lookup result.
    public func count(_ result: BloomResult) {
        switch result {
        case .negative: negatives.wrappingAdd(1, ordering: .relaxed)
        case .positive: positives.wrappingAdd(1, ordering: .relaxed)
        case .falsePositive: falsePositives.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// Lookups that said "certainly absent".
    public var negativeCount: Int { negatives.load(ordering: .relaxed) }
    /// Lookups that said "maybe" for a key the store had.
    public var positiveCount: Int { positives.load(ordering: .relaxed) }
    /// Lookups that said "maybe" for a key the store did not have.
    public var falsePositiveCount: Int { falsePositives.load(ordering: .relaxed) }
}
