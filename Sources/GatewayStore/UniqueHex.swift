import Synchronization

/// Unique hex strings without a `getrandom(2)` call each: SplitMix64 over a counter and a random 128-bit seed
/// drawn once per generator. Unique within the process (the counter), unpredictable across processes (the seed);
/// not secret. Used for owner tokens and request ids.
public final class UniqueHex: Sendable {
    private let seed: (UInt64, UInt64)
    private let counter = Atomic<UInt64>(0)

    public init() {
        var generator = SystemRandomNumberGenerator()
        seed = (generator.next(), generator.next())
    }

    /// The next value as 16 lower-case hex digits per 64-bit word (`words` is 1 or 2), written in place (one
    /// allocation).
    public func next(words: Int) -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).oldValue
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
