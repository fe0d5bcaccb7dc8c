#if canImport(Glibc)
import Glibc
#endif

/// A point on `ContinuousClock`'s timeline as a plain count of nanoseconds: the event loop's deadlines and
/// timestamps.
///
/// `ContinuousClock.Instant` is a resilient type of the Concurrency library: outside it, every copy, optional and
/// comparison of one goes through value witnesses and run-time metadata (setting and clearing an optional one in a
/// class costs about 80 ns, an integer a few). The loop-driven path arms and clears several deadlines per request,
/// so it keeps them in this form, and reads the clock itself (``now``); ``init(_:)`` and ``instant`` convert at the
/// edges.
public struct LoopTime: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds on `CLOCK_BOOTTIME`, the clock `ContinuousClock` reads on Linux.
    public var nanoseconds: Int64

    @inline(__always)
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// A `ContinuousClock` reading and the same moment on ``now``'s clock, taken together once: the conversions go
    /// through it (they agree with the clock to within the few nanoseconds between the two reads).
    private static let epoch: (instant: ContinuousClock.Instant, nanoseconds: Int64) = {
        let instant = ContinuousClock.now
        return (instant, now.nanoseconds)
    }()

    /// The same point as `instant`.
    public init(_ instant: ContinuousClock.Instant) {
        let epoch = Self.epoch
        nanoseconds = epoch.nanoseconds &+ Self.nanoseconds(of: instant - epoch.instant)
    }

    /// The current time: one `clock_gettime` (through the vDSO), no conversion.
    @inline(__always)
    public static var now: LoopTime {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return LoopTime(nanoseconds: Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec))
    }

    /// The same point as a `ContinuousClock.Instant`.
    public var instant: ContinuousClock.Instant {
        let epoch = Self.epoch
        return epoch.instant + .nanoseconds(nanoseconds &- epoch.nanoseconds)
    }

    /// This time moved by `nanoseconds` (see ``nanoseconds(of:)``), clamped to the representable range.
    @inline(__always)
    public func advanced(byNanoseconds delta: Int64) -> LoopTime {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(delta)
        return LoopTime(nanoseconds: overflow ? (delta < 0 ? .min : .max) : sum)
    }

    public var description: String { "\(Double(nanoseconds) / 1e9) s" }

    @inline(__always)
    public static func < (lhs: LoopTime, rhs: LoopTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// `time` moved by `duration` (clamped to the representable range: about ±292 years).
    @inline(__always)
    public static func + (time: LoopTime, duration: Duration) -> LoopTime {
        time.advanced(byNanoseconds: nanoseconds(of: duration))
    }

    /// The time from `rhs` to `lhs`.
    @inline(__always)
    public static func - (lhs: LoopTime, rhs: LoopTime) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    /// `duration` in whole nanoseconds, clamped to `Int64`.
    @inline(__always)
    public static func nanoseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, carry) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return carry ? (seconds < 0 ? .min : .max) : sum
    }
}
