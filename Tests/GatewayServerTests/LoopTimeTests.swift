import GatewaySockets
import Testing

/// The event loop's integer time (``LoopTime``) agrees with `ContinuousClock`, converts both ways and clamps instead
/// of overflowing.
@Suite("LoopTime")
struct LoopTimeTests {
    @Test func readsTheClockContinuousClockReads() {
        // CLOCK_BOOTTIME on both sides: the readings interleave.
        let before = ContinuousClock.now
        let now = LoopTime.now
        let after = ContinuousClock.now
        #expect(LoopTime(before) <= now.advanced(byNanoseconds: 1_000_000))
        #expect(now <= LoopTime(after).advanced(byNanoseconds: 1_000_000))
    }

    @Test func convertsBothWays() {
        let instant = ContinuousClock.now + .milliseconds(1234)
        let time = LoopTime(instant)
        #expect(time.instant == instant)
        #expect(LoopTime(time.instant) == time)
        #expect((time + .milliseconds(5)).instant == instant + .milliseconds(5))
    }

    @Test func arithmetic() {
        let time = LoopTime(nanoseconds: 1_000)
        #expect((time + .microseconds(2)).nanoseconds == 3_000)
        #expect((time + .nanoseconds(-500)).nanoseconds == 500)
        #expect(time.advanced(byNanoseconds: 250).nanoseconds == 1_250)
        #expect(LoopTime(nanoseconds: 5_000) - time == .nanoseconds(4_000))
        #expect(LoopTime.nanoseconds(of: .seconds(2) + .nanoseconds(7)) == 2_000_000_007)
        #expect(LoopTime.nanoseconds(of: .milliseconds(-3)) == -3_000_000)
    }

    @Test func clampsInsteadOfOverflowing() {
        #expect(LoopTime.nanoseconds(of: .seconds(Int64.max)) == .max)
        #expect(LoopTime.nanoseconds(of: .seconds(Int64.min)) == .min)
        let late = LoopTime(nanoseconds: .max - 10)
        #expect((late + .seconds(1)).nanoseconds == .max)
        #expect(LoopTime(nanoseconds: .min + 10).advanced(byNanoseconds: -100).nanoseconds == .min)
        // A deadline "never" stays in the future of every reading.
        #expect(LoopTime.now < LoopTime.now + .seconds(Int64.max))
    }
}
