import CEventPoll
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An event loop on one serial Dispatch queue.
///
/// The loop's sockets are registered, edge-triggered, in an epoll instance of its own, and that epoll descriptor
/// is watched by a single Dispatch read source on the loop's queue: when any socket becomes ready, the source's
/// handler harvests every ready socket with a non-blocking `epoll_wait(…, 0)` and wakes the tasks waiting on them.
/// Tasks that prefer this loop as their executor run on the same queue, so a task is resumed on the thread that
/// saw its socket's event, without a thread hop.
///
/// After a burst of events the loop keeps polling from its queue for ``busyPollBudget`` (never blocking: the
/// timeout is 0) before it hands back to the Dispatch source; under load it then never needs the Dispatch
/// manager thread at all, and a quick answer from an upstream is picked up without a wake-up round trip.
/// No thread ever blocks on the network.
public final class IOLoop: TaskExecutor, Sendable, CustomStringConvertible {
    /// The loop's queue (serial).
    public let queue: DispatchQueue
    /// Position in its group.
    public let index: Int
    /// Deadlines are checked this often; a timeout fires within this much of its deadline.
    public static let tickInterval: Duration = .milliseconds(25)
    /// How long the loop keeps polling after its last event before it waits for the Dispatch source again
    /// (`IDEMPOTENCY_GATEWAY_BUSY_POLL_US` overrides it; 0 turns busy polling off).
    public static let busyPollBudget: Duration = {
        if let text = getenv("IDEMPOTENCY_GATEWAY_BUSY_POLL_US"), let value = Int(String(cString: text)), value >= 0 {
            return .microseconds(value)
        }
        return .microseconds(100)
    }()

    private let epoll: Int32
    private let sockets = Mutex<[UInt64: AsyncSocket]>([:])
    private let nextToken = Atomic<UInt64>(1)
    private let sources: Mutex<(epoll: (any DispatchSourceRead)?, ticker: (any DispatchSourceTimer)?)>
    private let polling = Mutex(PollState())

    private struct PollState {
        /// A follow-up poll is queued.
        var scheduled = false
        /// The Dispatch source on the epoll descriptor is suspended (the loop is busy-polling).
        var sourceSuspended = false
        /// Busy polling stops after this instant without events.
        var spinUntil = ContinuousClock.now
    }

    /// The loop the current task runs on, when it was started by ``spawn(_:)`` or set by the caller.
    @TaskLocal public static var current: IOLoop?

    init(index: Int) {
        self.index = index
        let queue = DispatchQueue(label: "idempotency-gateway.io.\(index)", qos: .userInitiated)
        self.queue = queue
        let epoll = cep_create()
        precondition(epoll >= 0, "epoll_create1 failed: errno \(errno)")
        self.epoll = epoll
        self.sources = Mutex((nil, nil))
        let tick = Int(Self.tickInterval.components.attoseconds / 1_000_000_000_000_000)
        sources.withLock { sources in
            let source = DispatchSource.makeReadSource(fileDescriptor: epoll, queue: queue)
            source.setEventHandler { [weak self] in self?.poll(fromSource: true) }
            // The epoll descriptor is closed once Dispatch no longer watches it.
            source.setCancelHandler { _ = Glibc.close(epoll) }
            source.resume()
            let ticker = DispatchSource.makeTimerSource(queue: queue)
            ticker.schedule(deadline: .now() + .milliseconds(tick), repeating: .milliseconds(tick), leeway: .milliseconds(5))
            ticker.setEventHandler { [weak self] in self?.checkDeadlines() }
            ticker.resume()
            sources = (source, ticker)
        }
    }

    deinit {
        sources.withLock { sources in
            sources.ticker?.cancel()
            if let source = sources.epoll {
                if polling.withLock({ $0.sourceSuspended }) { source.resume() }
                source.cancel()
            }
        }
    }

    public var description: String { "IOLoop(\(index))" }

    /// Runs a job of a task that prefers this loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    /// Starts an unstructured task on this loop, with ``current`` set to it.
    @discardableResult
    public func spawn(_ operation: sending @escaping () async -> Void) -> Task<Void, Never> {
        Task(executorPreference: self) {
            await IOLoop.$current.withValue(self) { await operation() }
        }
    }

    // MARK: - Registration

    /// Registers `socket` for edge-triggered input and output readiness; returns its token.
    func register(_ socket: AsyncSocket, descriptor: Int32) throws(SocketError) -> UInt64 {
        let token = nextToken.wrappingAdd(1, ordering: .relaxed).oldValue
        sockets.withLock { $0[token] = socket }
        let events = CEP_IN | CEP_OUT | CEP_RDHUP | CEP_ET
        guard cep_add(epoll, descriptor, events, token) == 0 else {
            let error = SocketError.failed("epoll_ctl")
            _ = sockets.withLock { $0.removeValue(forKey: token) }
            throw error
        }
        return token
    }

    /// Forgets a socket (before its descriptor is closed).
    func deregister(token: UInt64, descriptor: Int32) {
        _ = cep_remove(epoll, descriptor)
        _ = sockets.withLock { $0.removeValue(forKey: token) }
    }

    /// Sockets currently registered.
    public var socketCount: Int { sockets.withLock { $0.count } }

    // MARK: - Polling (on the loop's queue)

    private func poll(fromSource: Bool) {
        if !fromSource { polling.withLock { $0.scheduled = false } }
        let count = withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 128) { tokens in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 128) { masks in
                let count = Int(cep_wait(epoll, tokens.baseAddress!, masks.baseAddress!, 128, 0))
                if count > 0 {
                    let ready: [(AsyncSocket, UInt32)] = sockets.withLock { sockets in
                        (0..<count).compactMap { i in sockets[tokens[i]].map { ($0, masks[i]) } }
                    }
                    for (socket, mask) in ready { socket.handle(events: mask) }
                }
                return count
            }
        }
        let now = ContinuousClock.now
        let (schedule, resumeSource, suspendSource): (Bool, Bool, Bool) = polling.withLock { state in
            if count > 0 { state.spinUntil = now + Self.busyPollBudget }
            if count > 0 || now < state.spinUntil {
                let suspend = !state.sourceSuspended
                state.sourceSuspended = true
                if state.scheduled { return (false, false, suspend) }
                state.scheduled = true
                return (true, false, suspend)
            }
            if state.sourceSuspended, !state.scheduled {
                state.sourceSuspended = false
                return (false, true, false)
            }
            return (false, false, false)
        }
        if suspendSource || resumeSource {
            sources.withLock { sources in
                if suspendSource { sources.epoll?.suspend() }
                if resumeSource { sources.epoll?.resume() }
            }
        }
        if schedule { queue.async { self.poll(fromSource: false) } }
    }

    private func checkDeadlines() {
        let sockets = self.sockets.withLock { Array($0.values) }
        guard !sockets.isEmpty else { return }
        let now = ContinuousClock.now
        for socket in sockets { socket.expireWaits(now: now) }
    }
}

/// A fixed set of ``IOLoop``s, one per core by default; new connections are spread round-robin.
public final class IOLoopGroup: Sendable {
    public let loops: [IOLoop]
    private let counter = Atomic<Int>(0)

    /// The process-wide group, one loop per online processor.
    public static let shared = IOLoopGroup(count: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))

    public init(count: Int) {
        loops = (0..<max(1, count)).map { IOLoop(index: $0) }
    }

    /// The next loop, round-robin.
    public func next() -> IOLoop {
        loops[counter.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// The loop of the current task when it has one, otherwise the next one.
    public func currentOrNext() -> IOLoop {
        IOLoop.current ?? next()
    }
}
