import Foundation
import GatewayStore
import Synchronization
import Testing

/// Owner tokens and request ids come from ``UniqueHex``: unique within the process even when many threads draw at
/// once (each thread takes its own blocks of the counter), and of the documented shape.
@Suite("UniqueHex")
struct UniqueHexTests {
    @Test func valuesDrawnOnManyThreadsAtOnceNeverRepeat() {
        let generator = UniqueHex()
        let threads = 8
        let perThread = 20_000  // several blocks per thread
        let drawn = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var mine: [String] = []
            mine.reserveCapacity(perThread)
            for _ in 0..<perThread { mine.append(generator.next(words: 1)) }
            drawn.withLock { $0.append(contentsOf: mine) }
        }
        let all = drawn.withLock { $0 }
        #expect(all.count == threads * perThread)
        #expect(Set(all).count == all.count, "a value repeated")
        #expect(all.allSatisfy { $0.utf8.count == 16 && $0.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) } })
    }

    @Test func ownerTokensAreTwoWordsAndDistinct() {
        let tokens = (0..<10_000).map { _ in OwnerToken.random().rawValue }
        #expect(Set(tokens).count == tokens.count)
        #expect(tokens.allSatisfy { $0.utf8.count == 32 })
    }
}
