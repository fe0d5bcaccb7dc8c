import Dispatch
import Synchronization

/// Runs actions at deadlines with a coarse resolution (``resolution``), for waits that usually end long before
/// their deadline (a client waiting for its upstream answer). Scheduling and cancelling are a dictionary insert
/// and removal under a lock; one Dispatch timer scans the pending entries, so a request costs no timer task.
final class TimeoutScheduler: Sendable {
    static let shared = TimeoutScheduler()
    /// How late an action may run after its deadline.
    static let resolution: Duration = .milliseconds(20)

    private struct Entry {
        var deadline: ContinuousClock.Instant
        var action: @Sendable () -> Void
    }

    private let entries = Mutex<[UInt64: Entry]>([:])
    private let nextID = Atomic<UInt64>(1)
    private let timer = Mutex<(any DispatchSourceTimer)?>(nil)

    private init() {
        let milliseconds = Int(Self.resolution.components.attoseconds / 1_000_000_000_000_000)
        timer.withLock { timer in
            let source = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "idempotency-gateway.timeouts"))
            source.schedule(deadline: .now() + .milliseconds(milliseconds), repeating: .milliseconds(milliseconds))
            source.setEventHandler { [unowned self] in self.fireDue() }
            source.resume()
            timer = source
        }
    }

    /// Runs `action` at (or up to ``resolution`` after) `deadline` unless cancelled first.
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        entries.withLock { $0[id] = Entry(deadline: deadline, action: action) }
        return id
    }

    func cancel(_ id: UInt64) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }

    private func fireDue() {
        let now = ContinuousClock.now
        let due: [Entry] = entries.withLock { entries in
            guard !entries.isEmpty else { return [] }
            var due: [Entry] = []
            for (id, entry) in entries where entry.deadline <= now {
                due.append(entry)
                entries.removeValue(forKey: id)
            }
            return due
        }
        for entry in due { entry.action() }
    }
}
