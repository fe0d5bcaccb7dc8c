import GatewayStore
import Synchronization

/// Responses that reached their client although the store refused them, retried in the background by one task.
///
/// Bounded, so that a store failing for a while (a full disk) cannot make memory grow with every request: at most
/// ``maxCount`` responses and ``maxBytes`` of bodies wait; beyond that a response is not kept (its key then stays
/// in flight until its lease ends, as after a crash). One worker retries the oldest first, one at a time: the first
/// failure ends the pass and the next pass waits longer (from 50 ms, doubling, up to 2 s), so a failing store sees
/// one attempt per pause rather than one per waiting response. A response whose lease ended is dropped (a retry of
/// its request takes the key over and is forwarded again: at least once).
final class UnstoredResponses: Sendable {
    /// What one attempt came to.
    enum Attempt: Sendable {
        /// Stored, or no longer ours to store (the key was taken over or deleted).
        case done
        /// The store failed in a way that may clear (disk full, busy, I/O): try again later.
        case retryLater
        /// The store failed in a way that will not clear (closed, corrupt, a record it cannot hold): drop it.
        case giveUp
    }

    private struct Item: Sendable {
        var id: UInt64
        var bytes: Int
        var deadline: ContinuousClock.Instant
        var attempt: @Sendable () async -> Attempt
        var dropped: @Sendable (_ reason: String) -> Void
    }

    private struct State: Sendable {
        var items: [Item] = []
        var bytes = 0
        var worker: Task<Void, Never>?
        var stopped = false
        var nextID: UInt64 = 0
    }

    let maxCount: Int
    let maxBytes: Int
    private let state = Mutex(State())

    init(maxCount: Int = 1024, maxBytes: Int = 64 << 20) {
        self.maxCount = maxCount
        self.maxBytes = maxBytes
    }

    /// Queues a response of `bytes` until `deadline`; false when the queue is full or stopped.
    /// - Parameters:
    ///   - attempt: stores it once.
    ///   - dropped: told when it is given up on (lease ended, store beyond repair, queue full, shutdown).
    @discardableResult
    func add(
        bytes: Int, until deadline: ContinuousClock.Instant, attempt: @escaping @Sendable () async -> Attempt,
        dropped: @escaping @Sendable (_ reason: String) -> Void
    ) -> Bool {
        let refusal = state.withLock { state -> String? in
            if state.stopped { return "shutting down" }
            guard state.items.count < maxCount, state.bytes + bytes <= maxBytes else {
                return "too many responses are waiting to be stored"
            }
            state.nextID &+= 1
            state.items.append(
                Item(id: state.nextID, bytes: bytes, deadline: deadline, attempt: attempt, dropped: dropped))
            state.bytes += bytes
            if state.worker == nil { state.worker = Task { [self] in await work() } }
            return nil
        }
        if let refusal { dropped(refusal) }
        return refusal == nil
    }

    /// Responses waiting.
    var count: Int { state.withLock { $0.items.count } }

    /// Stops the worker and drops what is still waiting.
    func stop() async {
        let (worker, items) = state.withLock { state in
            state.stopped = true
            defer { state.items = []; state.bytes = 0 }
            return (state.worker, state.items)
        }
        worker?.cancel()
        await worker?.value
        for item in items { item.dropped("shutting down") }
    }

    private func work() async {
        var pause = Duration.milliseconds(50)
        while !Task.isCancelled {
            try? await Task.sleep(for: pause)
            if Task.isCancelled { return }
            let now = ContinuousClock.now
            let (current, expired) = state.withLock { state -> ([Item], [Item]) in
                let expired = state.items.filter { $0.deadline <= now }
                state.items.removeAll { $0.deadline <= now }
                state.bytes -= expired.reduce(0) { $0 + $1.bytes }
                if state.items.isEmpty {
                    state.worker = nil  // a later add starts a new worker
                }
                return (state.items, expired)
            }
            for item in expired { item.dropped("the key's lease ended before the store recovered") }
            if current.isEmpty { return }
            var failed = false
            for item in current {
                let result = await item.attempt()
                if case .retryLater = result {
                    failed = true
                    break
                }
                if case .giveUp = result { item.dropped("the store cannot take it") }
                remove(item)
            }
            pause = failed ? min(pause * 2, .seconds(2)) : .milliseconds(50)
        }
    }

    private func remove(_ item: Item) {
        state.withLock { state in
            if let index = state.items.firstIndex(where: { $0.id == item.id }) {
                state.bytes -= state.items[index].bytes
                state.items.remove(at: index)
            }
        }
    }
}
