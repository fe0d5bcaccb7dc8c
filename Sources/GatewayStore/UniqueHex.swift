import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Unique hex strings without a `getrandom(2)` call each: SplitMix64 over a counter and a random 128-bit seed
/// drawn once per generator. Unique within the process (the counter), unpredictable across processes (the seed);
/// not secret. Used for owner tokens and request ids.
public final class UniqueHex: Sendable {
    private let seed: (UInt64, UInt64)

    public init() {
        var generator = SystemRandomNumberGenerator()
        seed = (generator.next(), generator.next())
    }

    /// The next value as 16 lower-case hex digits per 64-bit word (`words` is 1 or 2), written in place (one
    /// allocation).
    public func next(words: Int) -> String {
        let n = CounterBlocks.next()
        let high = Self.mix(seed.0 &+ n)
        let low = Self.mix(seed.1 &+ n)
        let count = 16 * min(max(words, 1), 2)
        return String(unsafeUninitializedCapacity: count) { buffer in
            for index in 0..<count {
                let word = index < 16 ? high : low
                let nibble = UInt8(truncatingIfNeeded: word >> UInt64(60 - 4 * (index % 16))) & 0x0F
                buffer[index] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
            }
            return count
        }
    }

    /// SplitMix64's finaliser.
    private static func mix(_ input: UInt64) -> UInt64 {
        var value = input &* 0x9E37_79B9_7F4A_7C15
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// The counter behind every ``UniqueHex``: each thread takes blocks of values from one shared atomic and hands them
/// out one by one, so the event loops do not bounce one cache line between cores for every value (blocks are
/// disjoint: values never repeat in the process).
enum CounterBlocks {
    static let blockSize: UInt64 = 4096
    private static let shared = Atomic<UInt64>(0)
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        // The thread's (next, end) pair is freed when its thread exits; the rest of its block is never used.
        let result = pthread_key_create(&key) { pair in free(pair) }
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()

    static func next() -> UInt64 {
        let pair: UnsafeMutablePointer<UInt64>
        if let existing = pthread_getspecific(key) {
            pair = existing.assumingMemoryBound(to: UInt64.self)
        } else {
            guard let fresh = malloc(2 * MemoryLayout<UInt64>.size) else { fatalError("out of memory") }
            pair = fresh.bindMemory(to: UInt64.self, capacity: 2)
            pair[0] = 0
            pair[1] = 0
            pthread_setspecific(key, fresh)
        }
        if pair[0] == pair[1] {
            pair[0] = shared.wrappingAdd(blockSize, ordering: .relaxed).oldValue
            pair[1] = pair[0] &+ blockSize
        }
        defer { pair[0] &+= 1 }
        return pair[0]
    }
}
