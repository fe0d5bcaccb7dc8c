import CEventPoll
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An event loop on one serial Dispatch queue.
///
/// The loop's sockets are registered, edge-triggered, in an epoll instance of its own, and that epoll descriptor
/// is watched by a single Dispatch read source on the loop's queue. Tasks that prefer this loop as their executor
/// have their jobs put on the loop's own run queue (an array, no allocation per job), as do the blocks of
/// loop-driven connections (``execute(_:)``), and one block on the Dispatch queue runs them: it alternates between running every queued job and harvesting ready sockets with a
/// non-blocking `epoll_wait(…, 0)` (which resumes the tasks waiting on them, queueing their jobs), so a task is
/// resumed on the thread that saw its socket's event, without a thread hop or a Dispatch block per job.
///
/// When there is nothing left to do the block keeps polling for ``busyPollBudget`` (never blocking: the timeout
/// is 0, and it yields the CPU between polls) before it hands back to the Dispatch source. It yields the queue
/// every ``maxRunSlice`` so the deadline ticker keeps running. No thread ever blocks on the network.
public final class IOLoop: TaskExecutor, Sendable, CustomStringConvertible {
    /// The loop's queue (serial).
    public let queue: DispatchQueue
    /// Position in its group.
    public let index: Int
    /// Deadlines are checked this often; a timeout fires within this much of its deadline.
    public static let tickInterval: Duration = .milliseconds(25)
    /// How long the loop keeps polling after its last event before it waits for the Dispatch source again
    /// (default 100 µs). A quick answer from an upstream is then picked up without the Dispatch manager thread
    /// waking a worker thread (two thread wake-ups per round trip). While it polls without work the loop calls
    /// `sched_yield()` between polls, so a client or upstream runnable on the same core goes first (on 2 shared
    /// cores this halved the added latency at one connection and raised every throughput figure of
    /// `scripts/bench.sh`). Process-wide: it applies to every loop. The gateway sets it from
    /// `server.busy-poll-microseconds` when it starts; 0 turns it off.
    public static var busyPollBudget: Duration {
        get { .nanoseconds(busyPollNanoseconds.load(ordering: .relaxed)) }
        set { busyPollNanoseconds.store(max(0, Int64(newValue.components.seconds) * 1_000_000_000 + newValue.components.attoseconds / 1_000_000_000), ordering: .relaxed) }
    }
    private static let busyPollNanoseconds = Atomic<Int64>(100_000)

    private let epoll: Int32
    private let sockets = Mutex<[UInt64: AsyncSocket]>([:])
    private let nextToken = Atomic<UInt64>(1)
    private let sources: Mutex<(epoll: (any DispatchSourceRead)?, ticker: (any DispatchSourceTimer)?)>
    private let runState = Mutex(RunState())
    /// The longest one run of the loop's block holds its Dispatch queue before it queues itself again.
    static let maxRunSlice: Duration = .milliseconds(2)

    private struct RunState {
        /// Jobs waiting to run, in order.
        var jobs: [UnownedJob] = []
        /// Blocks given to ``IOLoop/execute(_:)``, in order.
        var blocks: [@Sendable () -> Void] = []
        /// The run block is queued or running; jobs queued meanwhile are picked up by it.
        var scheduled = false
        /// The Dispatch source on the epoll descriptor is suspended (the run block is polling instead).
        var sourceSuspended = false
    }

    /// The loop the current task runs on, when it was started by ``spawn(_:)`` or set by the caller.
    @TaskLocal public static var current: IOLoop?

    /// The time the loop last read, for work on its queue that needs only an approximate now (an idle deadline, when
    /// a pooled connection went idle): at most one run slice (``maxRunSlice``) old, without a clock read. Read it
    /// only on the loop's queue.
    public var cycleTime: LoopTime { cycleInstant }
    /// Written and read only on the loop's queue (serial: Dispatch orders every access).
    nonisolated(unsafe) private var cycleInstant = LoopTime.now

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
            // The handlers hold the loop: a loop lives as long as the process (see ``IOLoopGroup``). Not weakly, on
            // purpose: an object ever referenced weakly takes a slower path on every retain and release, and
            // the loop is retained for every job and every request.
            source.setEventHandler { self.sourceFired() }
            source.resume()
            let ticker = DispatchSource.makeTimerSource(queue: queue)
            ticker.schedule(deadline: .now() + .milliseconds(tick), repeating: .milliseconds(tick), leeway: .milliseconds(5))
            ticker.setEventHandler { self.checkDeadlines() }
            ticker.resume()
            sources = (source, ticker)
        }
    }

    public var description: String { "IOLoop(\(index))" }

    /// Runs a job of a task that prefers this loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queueWork { $0.jobs.append(job) }
    }

    /// Runs `work` on the loop's queue, in the loop's own run (as a job is, without a Dispatch block of its own or
    /// a wait for the current run to end), for loop-driven connections.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        queueWork { $0.blocks.append(work) }
    }

    /// Adds work to the run queues and starts the run block unless it is queued or running already.
    private func queueWork(_ add: (inout RunState) -> Void) {
        let schedule = runState.withLock { state in
            add(&state)
            if state.scheduled { return false }
            state.scheduled = true
            return true
        }
        if schedule { queue.async { self.run() } }
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


    // MARK: - Polling (on the loop's queue)

    /// The Dispatch source saw the epoll descriptor readable (on the loop's queue).
    private func sourceFired() {
        let start = runState.withLock { state in
            if state.scheduled { return false }  // a queued run block will poll
            state.scheduled = true
            return true
        }
        if start { run() }
    }

    /// Runs queued jobs and harvests socket events until both are exhausted and the busy-poll budget is spent, or
    /// the run slice is (on the loop's queue; `scheduled` is true throughout).
    private func run() {
        let suspend = runState.withLock { state in
            defer { state.sourceSuspended = true }
            return !state.sourceSuspended
        }
        // While this block polls, the Dispatch source need not wake the manager thread for the same events.
        if suspend { sources.withLock { _ = $0.epoll?.suspend() } }
        let executor = asUnownedTaskExecutor()
        let started = LoopTime.now
        cycleInstant = started
        let busyPoll = Self.busyPollBudget
        var spinUntil = started + busyPoll
        let runSliceEnd = started + Self.maxRunSlice
        var batch: [UnownedJob] = []
        var blocks: [@Sendable () -> Void] = []
        while true {
            // Swap the queues out (their storage comes back below, so steady state allocates nothing).
            runState.withLock { state in
                swap(&batch, &state.jobs)
                swap(&blocks, &state.blocks)
            }
            let ranJobs = !batch.isEmpty || !blocks.isEmpty
            for block in blocks { block() }
            blocks.removeAll(keepingCapacity: true)
            for job in batch { job.runSynchronously(on: executor) }
            batch.removeAll(keepingCapacity: true)
            let events = harvest()
            let now = LoopTime.now
            cycleInstant = now
            if ranJobs || events > 0 { spinUntil = now + busyPoll }
            enum Next { case again, idle, yield }
            let next: Next = runState.withLock { state in
                // Hand the storage back.
                if state.jobs.isEmpty { swap(&batch, &state.jobs) }
                if state.blocks.isEmpty { swap(&blocks, &state.blocks) }
                if now > runSliceEnd { return .yield }
                if !state.jobs.isEmpty || !state.blocks.isEmpty || now < spinUntil { return .again }
                state.scheduled = false
                state.sourceSuspended = false
                return .idle
            }
            switch next {
            case .again:
                // Spinning without work: let any runnable thread on this core (a client, the upstream) go first.
                if !ranJobs, events == 0 { sched_yield() }
                continue
            case .yield:
                // Let the ticker and the source handler in; `scheduled` stays true, so jobs keep accumulating.
                queue.async { self.run() }
                return
            case .idle:
                sources.withLock { _ = $0.epoll?.resume() }
                return
            }
        }
    }

    /// One non-blocking `epoll_wait`; wakes the sockets that are ready. Returns how many were.
    private func harvest() -> Int {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 128) { tokens in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 128) { masks in
                let count = Int(cep_wait(epoll, tokens.baseAddress!, masks.baseAddress!, 128, 0))
                guard count > 0 else { return 0 }
                withUnsafeTemporaryAllocation(of: Unmanaged<AsyncSocket>?.self, capacity: count) { ready in
                    // Looked up under the registry's lock, handled after it: a loop-driven connection's callback
                    // runs from handle(events:) and may register or close sockets.
                    sockets.withLock { sockets in
                        for i in 0..<count {
                            ready[i] = sockets[tokens[i]].map { Unmanaged.passRetained($0) }
                        }
                    }
                    for i in 0..<count {
                        guard let socket = ready[i] else { continue }
                        socket.takeUnretainedValue().handle(events: masks[i])
                        socket.release()
                    }
                }
                return count
            }
        }
    }

    private func checkDeadlines() {
        let now = LoopTime.now
        // Taken under the registry's lock, failed after it, as in harvest(): a handler may register or close
        // sockets. Nothing is allocated unless a wait expired.
        var expired: [Waiter] = []
        sockets.withLock { sockets in
            for socket in sockets.values { socket.takeExpiredWaiters(now: now, into: &expired) }
        }
        for waiter in expired { waiter.resume(returning: .timeout) }
    }
}

/// A fixed set of ``IOLoop``s, one per usable core; new connections are spread round-robin.
///
/// There is one group, ``shared``, and its loops live as long as the process (their Dispatch sources hold them).
public final class IOLoopGroup: Sendable {
    public let loops: [IOLoop]
    private let counter = Atomic<Int>(0)

    /// The process-wide group, one loop per processor the process may run on (its CPU affinity, which a
    /// container's cpuset or `taskset` narrows; the online processors when that cannot be read).
    public static let shared = IOLoopGroup(count: usableProcessors)

    /// The processors this process may run on.
    public static var usableProcessors: Int {
        let usable = Int(cep_usable_processors())
        return max(1, usable > 0 ? usable : Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    init(count: Int) {
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
