#if canImport(Glibc)
import Glibc
#endif
import CEventPoll
import Synchronization

/// A connected non-blocking socket with `async` reads and writes, driven by its ``IOLoop``.
///
/// Readiness is edge-triggered: the loop marks the socket readable or writable and wakes the task waiting for
/// it; the task then makes the system call itself, and only waits again when the kernel says "would block".
/// Deadlines are checked by the loop's ticker. No thread ever blocks on the network. One reader and one writer
/// at a time.
///
/// The socket owns its descriptor. ``close()`` deregisters it and closes it once no system call on it is in
/// progress, so a descriptor number reused by the kernel is never read or written by a stale owner.
public final class AsyncSocket: Sendable {
    public let socket: Socket
    /// The peer's address, when known.
    public let peer: SocketAddress?
    /// The loop that watches this socket.
    public let loop: IOLoop
    private let state: Mutex<State>
    private let token = Atomic<UInt64>(0)

    /// Bytes asked of the kernel per read.
    static let readSize = 65536

    private struct State {
        /// Edge-triggered readiness, and a count of readiness events (so that a read that drained the socket only
        /// clears `readable` when no new event came in meanwhile).
        var readable: Bool
        var readEvents: UInt64 = 0
        /// The peer closed its side, or the socket failed: reads never wait again (EOF or the error is next).
        var inputEnded = false
        var writable: Bool
        var writeEvents: UInt64 = 0
        var reader: Waiter?
        var readDeadline: LoopTime?
        var writer: Waiter?
        var writeDeadline: LoopTime?
        var closed = false
        /// System calls in progress on the descriptor; the descriptor is closed when this drops to 0 after close().
        var inProgress = 0
        var descriptorClosed = false
    }

    /// Wraps a connected non-blocking socket.
    public convenience init(socket: Socket, peer: SocketAddress?, loop: IOLoop) {
        self.init(socket: socket, peer: peer, loop: loop, connected: true)
    }

    private init(socket: Socket, peer: SocketAddress?, loop: IOLoop, connected: Bool) {
        self.socket = socket
        self.peer = peer
        self.loop = loop
        // An accepted socket may already hold input: try reading before waiting for an event.
        self.state = Mutex(State(readable: connected, writable: connected))
        do {
            token.store(try loop.register(self, descriptor: socket.descriptor), ordering: .relaxed)
        } catch {
            // Registration only fails when the kernel is out of memory or the fd is bad. Nothing would ever wake
            // a wait on this socket, so it starts closed: every operation fails with `.closed`.
            state.withLock {
                $0.closed = true
                $0.descriptorClosed = true
            }
            socket.close()
        }
    }

    deinit {
        let closed = state.withLock { $0.closed }
        assert(closed, "AsyncSocket for fd \(socket.descriptor) was not closed")
    }

    /// Connects to `address`, failing with ``SocketError/timeout`` after `deadline`.
    public static func connect(
        to address: SocketAddress, deadline: ContinuousClock.Instant?, loop: IOLoop
    ) async throws(SocketError) -> AsyncSocket {
        let socket = try Socket.makeTCP(for: address)
        // connect() first, then register: an unconnected socket would report EPOLLOUT|EPOLLHUP straight away.
        let started: IOResult<Void>
        do {
            started = try socket.connect(to: address)
        } catch {
            socket.close()
            throw error
        }
        let inProgress: Bool
        if case .wouldBlock = started { inProgress = true } else { inProgress = false }
        let connection = AsyncSocket(socket: socket, peer: address, loop: loop, connected: !inProgress)
        do throws(SocketError) {
            if inProgress {
                try await connection.waitWritable(deadline: deadline)
                let code = socket.pendingError()
                if code != 0 { throw SocketError.system(operation: "connect", errno: code) }
            }
            connection.state.withLock { $0.readable = true }
            socket.setNoDelay()
            return connection
        } catch {
            connection.close()
            throw error
        }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Whether an idle connection still looks usable: a non-blocking `MSG_PEEK` sees neither the peer's FIN nor
    /// stray bytes. Catches a close whose readiness event the loop has not processed yet.
    /// - Parameter trustEvents: when no readiness event came in since the last read drained the socket (no input,
    ///   no FIN), answer from that without a system call. The loop harvests events after each batch of jobs, so
    ///   this misses a FIN that arrived during the current batch (the `MSG_PEEK` would catch it). The upstream
    ///   client then sees the connection close before any response: it sends a safe request again on a fresh
    ///   connection, and answers any other `502`. Only an upstream that closes a persistent connection right after
    ///   a response, without `Connection: close`, can cause it; a close after an idle timeout is caught, since
    ///   long-idle connections are always peeked (`ConnectionPool` in GatewayBackends).
    public func probeIdle(trustEvents: Bool = false) -> Bool {
        enum Verdict { case dead, alive, peek }
        let verdict: Verdict = state.withLock { state in
            guard !state.closed, !state.inputEnded else { return .dead }
            if trustEvents, !state.readable { return .alive }
            state.inProgress += 1
            return .peek
        }
        guard verdict == .peek else { return verdict == .alive }
        var byte: UInt8 = 0
        let result = Glibc.recv(socket.descriptor, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        let code = errno
        finishCall { _ in }
        return result < 0 && (code == EAGAIN || code == EWOULDBLOCK)
    }

    /// Whether nothing happened on an idle connection since its input was last drained: no input, no end of input,
    /// no error, not closed. Answered from the loop's readiness events, without a system call (``probeIdle(trustEvents:)``
    /// asks the kernel too).
    public var isQuiet: Bool {
        state.withLock { !$0.closed && !$0.inputEnded && !$0.readable }
    }

    /// Waits for input and passes it to `consume`; returns its byte count, 0 when the peer closed its side.
    @discardableResult
    public func read(deadline: ContinuousClock.Instant?, _ consume: (UnsafeRawBufferPointer) -> Void) async throws(SocketError) -> Int {
        while true {
            if let count = try readNow(consume) { return count }
            try await waitReadable(deadline: deadline)
        }
    }

    /// One read without waiting: the byte count (0 at end of file), or nil when nothing has arrived.
    public func readNow(_ consume: (UnsafeRawBufferPointer) -> Void) throws(SocketError) -> Int? {
        let events: UInt64? = try state.withLock { state throws(SocketError) in
            if state.closed { throw .closed }
            guard state.readable else { return nil }
            state.inProgress += 1
            return state.readEvents
        }
        guard let events else { return nil }
        let buffer = ReadScratch.buffer()
        let result = Result { () throws(SocketError) in try socket.read(into: buffer.baseAddress!, count: buffer.count) }
        if case .success(.done(let count)) = result, count > 0 {
            consume(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        finishCall { state in
            switch result {
            case .success(.done(let count)) where count > 0 && count < Self.readSize:
                // A short read most likely drained the socket; a new edge (counted in readEvents) says otherwise.
                if state.readEvents == events, !state.inputEnded { state.readable = false }
            case .success(.wouldBlock) where state.readEvents == events:
                // The kernel had nothing, and no event came in since the call started: no end of file or error is
                // pending either (those never read EAGAIN).
                state.inputEnded = false
                state.readable = false
            default:
                break
            }
        }
        switch result {
        case .success(.done(let count)): return count
        case .success(.wouldBlock): return nil
        case .failure(let error): throw error
        }
    }

    /// Writes all of `bytes`, waiting for the socket to drain when the kernel buffer is full.
    /// - Parameter stallTimeout: the longest the peer may keep the socket unwritable (not a limit on the whole
    ///   write, so large bodies to slow but live peers still go through).
    public func write(_ bytes: [UInt8], stallTimeout: Duration?) async throws(SocketError) {
        _ = try await write(bytes, stallTimeout: stallTimeout, checkingEvery: nil) { false }
    }

    /// Writes all of `bytes` as ``write(_:stallTimeout:)`` does, but while the peer keeps the socket unwritable,
    /// asks `stop` every `interval` whether to give up (a peer that stopped reading because it has answered).
    /// - Returns: true when everything was written, false when `stop` ended the write.
    public func write(
        _ bytes: [UInt8], stallTimeout: Duration?, checkingEvery interval: Duration?, stop: () -> Bool
    ) async throws(SocketError) -> Bool {
        var offset = 0
        let total = bytes.count
        while offset < total {
            let events: UInt64? = try state.withLock { state throws(SocketError) in
                if state.closed { throw .closed }
                guard state.writable else { return nil }
                state.inProgress += 1
                return state.writeEvents
            }
            guard let events else {
                let stallDeadline = stallTimeout.map { ContinuousClock.now + $0 }
                guard let interval else {
                    try await waitWritable(deadline: stallDeadline)
                    continue
                }
                // In slices of `interval`, each followed by the question, until writable or the stall deadline.
                while true {
                    let slice = ContinuousClock.now + interval
                    do throws(SocketError) {
                        try await waitWritable(deadline: stallDeadline.map { min($0, slice) } ?? slice)
                        break
                    } catch .timeout {
                        if let stallDeadline, ContinuousClock.now >= stallDeadline { throw .timeout }
                        if stop() { return false }
                    }
                }
                continue
            }
            let result: Result<IOResult<Int>, SocketError> = bytes.withUnsafeBytes { storage in
                Result { () throws(SocketError) in try socket.write(storage.baseAddress! + offset, count: total - offset) }
            }
            let full: Bool
            if case .success(.wouldBlock) = result { full = true } else { full = false }
            finishCall { state in
                if full, state.writeEvents == events { state.writable = false }
            }
            switch try result.get() {
            case .done(let written): offset += written
            case .wouldBlock: continue
            }
        }
        return true
    }

    /// Up to `limit` bytes of input that have arrived, left in the socket for the next read (`MSG_PEEK`, without
    /// waiting); empty when there is none (or the peer closed, or the socket failed).
    public func peek(limit: Int) -> [UInt8] {
        whileOpen {
            var bytes = [UInt8](repeating: 0, count: limit)
            let count = bytes.withUnsafeMutableBytes { buffer in
                Glibc.recv(socket.descriptor, buffer.baseAddress, limit, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
            }
            return count > 0 ? Array(bytes[..<count]) : []
        } ?? []
    }

    /// Makes the coming ``close()`` reset the connection (``Socket/setResetOnClose()``): a close-delimited message
    /// that broke off then reads as broken, not as complete.
    public func resetOnClose() {
        whileOpen { socket.setResetOnClose() }
    }

    /// Sends a FIN after the last response, keeping the descriptor open.
    public func shutdownWrite() {
        whileOpen { socket.shutdownWrite() }
    }

    /// Closes the connection: pending waits fail with ``SocketError/closed``. Idempotent.
    public func close() {
        let (reader, writer, closeNow): (Waiter?, Waiter?, Bool) =
            state.withLock { state in
                if state.closed { return (nil, nil, false) }
                state.closed = true
                defer {
                    state.reader = nil
                    state.writer = nil
                }
                let closeNow = state.inProgress == 0
                if closeNow { state.descriptorClosed = true }
                return (state.reader, state.writer, closeNow)
            }
        if closeNow { closeDescriptor() }
        reader?.resume(returning: .closed, onQueueOf: loop)
        writer?.resume(returning: .closed, onQueueOf: loop)
    }

    /// Called by the loop when epoll reports readiness (on the loop's queue).
    func handle(events mask: UInt32) {
        let readyForInput = mask & (CEP_IN | CEP_RDHUP | CEP_HUP | CEP_ERR) != 0
        let readyForOutput = mask & (CEP_OUT | CEP_HUP | CEP_ERR) != 0
        let (reader, writer): (Waiter?, Waiter?) =
            state.withLock { state in
                guard !state.closed else { return (nil, nil) }
                var reader: Waiter?
                var writer: Waiter?
                if readyForInput {
                    state.readable = true
                    // The peer's FIN, or an error: the next read returns 0 or fails, never "would block". (Plain
                    // EPOLLHUP is not enough: an unconnected socket reports it before connect() completes.)
                    if mask & (CEP_RDHUP | CEP_ERR) != 0 { state.inputEnded = true }
                    state.readEvents &+= 1
                    reader = state.reader
                    state.reader = nil
                    state.readDeadline = nil
                }
                if readyForOutput {
                    state.writable = true
                    state.writeEvents &+= 1
                    writer = state.writer
                    state.writer = nil
                    state.writeDeadline = nil
                }
                return (reader, writer)
            }
        reader?.resume(returning: nil)
        writer?.resume(returning: nil)
    }

    /// Called by the loop's ticker, under its registry's lock: takes the waiters whose deadline passed (the caller
    /// fails them with ``SocketError/timeout`` once the lock is released).
    func takeExpiredWaiters(now: LoopTime, into expired: inout [Waiter]) {
        state.withLock { state in
            if let deadline = state.readDeadline, deadline <= now, let reader = state.reader {
                expired.append(reader)
                state.reader = nil
                state.readDeadline = nil
            }
            if let deadline = state.writeDeadline, deadline <= now, let writer = state.writer {
                expired.append(writer)
                state.writer = nil
                state.writeDeadline = nil
            }
        }
    }

    // MARK: - Loop callbacks (no task)

    /// What ``whenReadable(deadline:notify:)`` and ``whenWritable(deadline:notify:)`` did.
    public enum Arming {
        /// The handler will be called on the loop's queue: at the next readiness event (nil), at the deadline
        /// (``SocketError/timeout``) or when the socket is closed (``SocketError/closed``).
        case armed
        /// The socket is ready already: the handler was not kept, and the caller goes on at once.
        case ready
    }

    /// Calls `handler`'s ``SocketEventHandler/socketReadable(_:)`` on the loop's queue once the socket is readable
    /// (the loop-driven counterpart of a task's wait in ``read(deadline:_:)``). One reader at a time, task or handler.
    /// - Throws: ``SocketError/closed`` when the socket is closed (the handler is not kept).
    public func whenReadable(deadline: LoopTime?, notify handler: any SocketEventHandler) throws(SocketError) -> Arming {
        try state.withLock { state throws(SocketError) in
            if state.closed { throw .closed }
            if state.readable { return .ready }
            state.reader = .readHandler(handler)
            state.readDeadline = deadline
            return .armed
        }
    }

    /// Calls `handler`'s ``SocketEventHandler/socketWritable(_:)`` on the loop's queue once the socket is writable
    /// (as ``whenReadable(deadline:notify:)``).
    public func whenWritable(deadline: LoopTime?, notify handler: any SocketEventHandler) throws(SocketError) -> Arming {
        try state.withLock { state throws(SocketError) in
            if state.closed { throw .closed }
            if state.writable { return .ready }
            state.writer = .writeHandler(handler)
            state.writeDeadline = deadline
            return .armed
        }
    }

    /// One write without waiting: how many bytes of `bytes[offset...]` went out, or nil when the kernel's buffer is
    /// full (wait with ``whenWritable(deadline:notify:)``).
    public func writeNow(_ bytes: [UInt8], from offset: Int) throws(SocketError) -> Int? {
        let events: UInt64? = try state.withLock { state throws(SocketError) in
            if state.closed { throw .closed }
            guard state.writable else { return nil }
            state.inProgress += 1
            return state.writeEvents
        }
        guard let events else { return nil }
        let result: Result<IOResult<Int>, SocketError> = bytes.withUnsafeBytes { storage in
            Result { () throws(SocketError) in try socket.write(storage.baseAddress! + offset, count: storage.count - offset) }
        }
        let full: Bool
        if case .success(.wouldBlock) = result { full = true } else { full = false }
        finishCall { state in
            if full, state.writeEvents == events { state.writable = false }
        }
        switch try result.get() {
        case .done(let written): return written
        case .wouldBlock: return nil
        }
    }

    // MARK: - Private

    private func waitReadable(deadline instant: ContinuousClock.Instant?) async throws(SocketError) {
        let deadline = instant.map(LoopTime.init)
        let error: SocketError? = await withUnsafeContinuation { continuation in
            let immediate: SocketError?? = state.withLock { state in
                if state.closed { return .some(.closed) }
                if state.readable { return .some(nil) }
                state.reader = .task(continuation)
                state.readDeadline = deadline
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        if let error { throw error }
    }

    private func waitWritable(deadline instant: ContinuousClock.Instant?) async throws(SocketError) {
        let deadline = instant.map(LoopTime.init)
        let error: SocketError? = await withUnsafeContinuation { continuation in
            let immediate: SocketError?? = state.withLock { state in
                if state.closed { return .some(.closed) }
                if state.writable { return .some(nil) }
                state.writer = .task(continuation)
                state.writeDeadline = deadline
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        if let error { throw error }
    }

    /// Runs `call` (system calls on the descriptor) unless the socket is closed, keeping the descriptor open until it
    /// returns; nil when the socket was closed.
    private func whileOpen<Result>(_ call: () -> Result) -> Result? {
        let open = state.withLock { state in
            guard !state.closed else { return false }
            state.inProgress += 1
            return true
        }
        guard open else { return nil }
        defer { finishCall { _ in } }
        return call()
    }

    /// Ends a system call started under the lock; closes the descriptor if close() came in meanwhile.
    private func finishCall(_ update: (inout State) -> Void) {
        let closeNow = state.withLock { state in
            state.inProgress -= 1
            update(&state)
            guard state.closed, state.inProgress == 0, !state.descriptorClosed else { return false }
            state.descriptorClosed = true
            return true
        }
        if closeNow { closeDescriptor() }
    }

    private func closeDescriptor() {
        loop.deregister(token: token.load(ordering: .relaxed), descriptor: socket.descriptor)
        socket.close()
    }
}

/// What a loop-driven user of a socket implements to be told of its readiness (``AsyncSocket/whenReadable(deadline:notify:)``):
/// called on the loop's queue, never under a lock, with nil when the socket is ready, ``SocketError/timeout`` at the
/// deadline, or ``SocketError/closed``. An object, not a closure: waiting allocates nothing.
public protocol SocketEventHandler: AnyObject, Sendable {
    /// The socket it waits on is readable (nil), its read deadline passed, or it was closed.
    func socketReadable(_ error: SocketError?)
    /// The socket it waits on is writable (nil), its write deadline passed, or it was closed.
    func socketWritable(_ error: SocketError?)
}

/// Who waits for a socket's readiness: a suspended task, or a loop-driven handler (called on the loop's queue, never
/// under a lock).
enum Waiter: Sendable {
    case task(UnsafeContinuation<SocketError?, Never>)
    case readHandler(any SocketEventHandler)
    case writeHandler(any SocketEventHandler)

    /// Resumes the waiter (on the loop's queue: from a readiness event or the deadline ticker).
    func resume(returning error: SocketError?) {
        switch self {
        case .task(let continuation): continuation.resume(returning: error)
        case .readHandler(let handler): handler.socketReadable(error)
        case .writeHandler(let handler): handler.socketWritable(error)
        }
    }

    /// Resumes the waiter from any thread: a handler is called on `loop`'s queue, where loop-driven connections live.
    func resume(returning error: SocketError?, onQueueOf loop: IOLoop) {
        switch self {
        case .task(let continuation): continuation.resume(returning: error)
        case .readHandler, .writeHandler: loop.execute { self.resume(returning: error) }
        }
    }
}
