import Synchronization

/// A bound on the message-body bytes held in memory at once: a server's buffered request bodies across all its
/// connections, or the idempotency engine's buffered keyed responses.
///
/// For requests, each connection's body limit (413) bounds one request; this bounds their sum, which would otherwise
/// be the body limit times the connection limit (8 MiB × 4096 = 32 GiB by default). A body is buffered whole when
/// the handler needs it (a request under an idempotency key is fingerprinted before it is forwarded), and it stays
/// in memory as long as any copy of its request lives: past the client's answer, while an upstream exchange under
/// a key still runs. So a ``Reservation`` goes with the message (``GatewayRequest``, ``GatewayResponse``, or the
/// buffered start of a ``PrefixedBodyStream``) and gives its bytes back when the last copy of it is gone.
public final class BufferedBodyBudget: Sendable {
    /// The most bytes reserved at once.
    public let limit: Int
    private let used = Atomic<Int>(0)

    /// A budget of `limit` bytes (a negative limit is 0: every body is refused).
    public init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Bytes currently reserved.
    public var inUse: Int { used.load(ordering: .relaxed) }

    /// Bodies refused so far: requests answered `503` because their body would not fit (the server's budget), or
    /// keyed responses streamed and stored without their body (the idempotency engine's).
    public var refusals: Int { refused.load(ordering: .relaxed) }
    private let refused = Atomic<Int>(0)

    /// Whether `bytes` more would fit now (a body announced by its `Content-Length`, before any of it is read).
    public func wouldFit(_ bytes: Int) -> Bool {
        bytes <= limit - used.load(ordering: .relaxed)
    }

    /// Counts a request refused for want of room. Returns true at most once per `logInterval` (the first time
    /// included), so that a refusal is logged without one line per request under load.
    public func countRefusal(logInterval: Duration = .seconds(10)) -> Bool {
        refused.wrappingAdd(1, ordering: .relaxed)
        let now = (ContinuousClock.now - created).milliseconds
        let last = lastLogged.load(ordering: .relaxed)
        guard last < 0 || now - last >= logInterval.milliseconds else { return false }
        return lastLogged.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
    }
    private let created = ContinuousClock.now
    /// When a refusal was last logged (milliseconds since `created`), -1 before the first.
    private let lastLogged = Atomic<Int64>(-1)

    /// Reserves `bytes` (more can be added with ``Reservation/grow(by:)``); nil when they do not fit.
    public func reserve(_ bytes: Int) -> Reservation? {
        guard take(bytes) else { return nil }
        return Reservation(budget: self, bytes: bytes)
    }

    /// Takes `bytes` without a ``Reservation`` (for a holder that gives them back itself with ``release(_:)``, as a
    /// loop-driven connection does when its answer came); false when they do not fit.
    public func take(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        var current = used.load(ordering: .relaxed)
        while true {
            guard bytes <= limit - current else { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Gives back bytes taken with ``take(_:)``.
    public func release(_ bytes: Int) {
        give(bytes)
    }

    fileprivate func give(_ bytes: Int) {
        if bytes > 0 { used.wrappingSubtract(bytes, ordering: .relaxed) }
    }

    /// Bytes of one body, given back to the budget when the reservation is released (when the last copy of the
    /// message or stream that holds it is gone).
    public final class Reservation: Sendable {
        private let budget: BufferedBodyBudget
        private let bytes: Atomic<Int>

        fileprivate init(budget: BufferedBodyBudget, bytes: Int) {
            self.budget = budget
            self.bytes = Atomic(bytes)
        }

        /// The bytes held.
        public var size: Int { bytes.load(ordering: .relaxed) }

        /// Adds `count` bytes (a chunked body growing); false, holding what it held, when they do not fit.
        public func grow(by count: Int) -> Bool {
            guard budget.take(count) else { return false }
            bytes.wrappingAdd(count, ordering: .relaxed)
            return true
        }

        deinit {
            budget.give(bytes.load(ordering: .relaxed))
        }
    }
}

extension Duration {
    fileprivate var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
