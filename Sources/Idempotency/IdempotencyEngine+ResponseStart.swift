import GatewayHTTP
import GatewayStore
import Synchronization

/// Reading the start of a streamed keyed response: as far as it may be stored, within the engine's budget for the
/// response bodies it holds (``IdempotencyConfiguration/maxBufferedResponseBytes``).
extension IdempotencyEngine {
    /// Reads a streamed response body as far as it may be stored: the whole body when it ends within `limit` bytes
    /// (`whole`), else nil and what was read (the stream then continues after it). A body whose announced length is
    /// over the limit is not read at all.
    ///
    /// The client waits for this (its upstream timeout stopped when the head arrived), so it is bounded as a whole by
    /// `deadline` (the key's lease end): the stream is cancelled then. A read that stalls or fails, or the deadline,
    /// ends the exchange as ``UpstreamError/failed(_:)``: the upstream has answered, so the key stays in flight until
    /// its lease ends (not a timeout, which promises that a late answer will be stored).
    ///
    /// What is read counts against `budget` as it arrives (the reservation comes back with it); a body that would
    /// go past it is read no further and comes back as one over the limit (`overBudget`, `whole` nil). A body whose
    /// announced length does not fit is not read at all.
    static func readStart(
        of stream: any HTTPBodyStream, upTo limit: Int, budget: BufferedBodyBudget,
        until deadline: ContinuousClock.Instant
    ) async throws(UpstreamError) -> (
        whole: [UInt8]?, read: [UInt8], reservation: BufferedBodyBudget.Reservation?, overBudget: Bool
    ) {
        if let length = stream.length {
            if length > limit { return (nil, [], nil, false) }
            if !budget.wouldFit(length) { return (nil, [], nil, true) }
        }
        // reserve(0) always succeeds; each piece is added as it arrives.
        let reservation = budget.reserve(0)
        var overBudget = false
        let expired = OnceFlag()
        let timer = TimeoutScheduler.shared.schedule(at: deadline) {
            expired.set()
            stream.cancel()
        }
        defer { TimeoutScheduler.shared.cancel(timer) }
        var read: [UInt8] = []
        do {
            while read.count <= limit {
                guard let piece = try await stream.next() else { break }
                // A piece that takes the body past the limit ends the reading: the body is too large to store
                // whatever the budget says, so the piece is not charged to it. One that does not fit the budget is
                // already here too: it goes to the client with the rest, uncounted.
                if read.count + piece.count <= limit, reservation?.grow(by: piece.count) != true { overBudget = true }
                if read.isEmpty { read = piece } else { read.append(contentsOf: piece) }
                if overBudget { break }
            }
        } catch {
            stream.cancel()
            throw .failed(
                expired.isSet
                    ? "the response body did not arrive before the key's lease ended"
                    : "reading the response body: \(error)")
        }
        // A stream cancelled by the deadline may end as if complete: what it gave is not the whole body.
        if expired.isSet { throw .failed("the response body did not arrive before the key's lease ended") }
        return (read.count <= limit && !overBudget ? read : nil, read, reservation, overBudget)
    }

    /// A flag set once and read from other tasks (a deadline's timer, a stream's failure handler).
    final class OnceFlag: Sendable {
        private let value = Atomic(false)
        func set() { value.store(true, ordering: .releasing) }
        var isSet: Bool { value.load(ordering: .acquiring) }
    }
}
