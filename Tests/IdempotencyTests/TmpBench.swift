import Idempotency
import Testing

@Test func tmpBench() async {
    let harness = Harness()
    let clock = ContinuousClock()
    let n = 5000
    let newKeys = await clock.measure {
        for i in 0..<n { _ = await harness.send(makeRequest(key: "k\(i)")) }
    }
    let replays = await clock.measure {
        for i in 0..<n { _ = await harness.send(makeRequest(key: "k\(i % 100)")) }
    }
    let direct = await clock.measure {
        for _ in 0..<n { _ = try? await harness.backend.handle(makeRequest()) }
    }
    print("BENCH new \(newKeys / n) replay \(replays / n) direct \(direct / n)")
}
