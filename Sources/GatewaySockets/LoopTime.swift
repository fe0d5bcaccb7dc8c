/// A point on `ContinuousClock`'s timeline as a plain count of nanoseconds: the event loop's deadlines and
/// timestamps.
///
/// `ContinuousClock.Instant` is a resilient type of the Concurrency library: outside it, every copy, optional and
/// comparison of one goes through value witnesses and run-time metadata (setting and clearing an optional one in a
/// class costs about 80 ns, an integer a few). The loop-driven path arms and clears several deadlines per request,
/// so it keeps them in this form; ``init(_:)`` and ``instant`` convert at the edges, exactly (to the nanosecond).
public struct LoopTime: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since ``epoch``.
    public var nanoseconds: Int64

    /// The origin: the first time the process asked for one.
    static let epoch = ContinuousClock.now

    @inline(__always)
    init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The same point as `instant`.
    public init(_ instant: ContinuousClock.Instant) {
        nanoseconds = Self.nanoseconds(of: instant - Self.epoch)
    }

    /// The current time.
    public static var now: LoopTime { LoopTime(ContinuousClock.now) }

    /// The same point as a `ContinuousClock.Instant`.
    public var instant: ContinuousClock.Instant { Self.epoch + .nanoseconds(nanoseconds) }

    public var description: String { "\(Double(nanoseconds) / 1e9) s" }

    @inline(__always)
    public static func < (lhs: LoopTime, rhs: LoopTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// `time` moved by `duration` (clamped to the representable range: about ±292 years).
    @inline(__always)
    public static func + (time: LoopTime, duration: Duration) -> LoopTime {
        let (sum, overflow) = time.nanoseconds.addingReportingOverflow(nanoseconds(of: duration))
        return LoopTime(nanoseconds: overflow ? (duration < .zero ? .min : .max) : sum)
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
