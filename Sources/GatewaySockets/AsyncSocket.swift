#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// A connected non-blocking socket with `async` reads and writes, driven by Dispatch sources.
///
/// No thread ever blocks on the network: a read or write first tries the system call; when the kernel says
/// "would block", the caller suspends and a Dispatch read/write source on the descriptor resumes it when the
/// socket is ready (or a deadline fails it with ``SocketError/timeout``). One reader and one writer at a time.
///
/// The socket owns its descriptor: ``close()`` cancels the sources and closes the descriptor once both
/// cancellation handlers have run (so a reused descriptor number is never watched by a stale source).
public final class AsyncSocket: Sendable {
    public let socket: Socket
    /// The peer's address, when known.
    public let peer: SocketAddress?
    private let queue: DispatchQueue
    private let state = Mutex(State())

    private enum Direction { case read, write }

    private struct Waiting {
        /// The Dispatch source watching the descriptor, created on first use; suspended when nobody waits.
        var source: (any DispatchSourceProtocol)?
        var active = false
        var waiter: UnsafeContinuation<SocketError?, Never>?
        var generation: UInt64 = 0
    }

    private struct State {
        var read = Waiting()
        var write = Waiting()
        var closed = false
        var liveSources = 0

        subscript(direction: Direction) -> Waiting {
            get { direction == .read ? read : write }
            set { if direction == .read { read = newValue } else { write = newValue } }
        }
    }

    /// Wraps an already connected non-blocking socket. - Parameter queue: where readiness events are handled
    /// (work done there is tiny: it only resumes the waiting task).
    public init(socket: Socket, peer: SocketAddress?, queue: DispatchQueue) {
        self.socket = socket
        self.peer = peer
        self.queue = queue
    }

    deinit {
        let closed = state.withLock { $0.closed }
        assert(closed, "AsyncSocket for fd \(socket.descriptor) was not closed")
    }

    /// Connects to `address`, failing with ``SocketError/timeout`` after `deadline`.
    public static func connect(
        to address: SocketAddress, deadline: ContinuousClock.Instant?, queue: DispatchQueue
    ) async throws(SocketError) -> AsyncSocket {
        let socket = try Socket.makeTCP(for: address)
        let connection = AsyncSocket(socket: socket, peer: address, queue: queue)
        do throws(SocketError) {
            if case .wouldBlock = try socket.connect(to: address) {
                try await connection.wait(.write, deadline: deadline)
                let code = socket.pendingError()
                if code != 0 { throw SocketError.system(operation: "connect", errno: code) }
            }
            socket.setNoDelay()
            return connection
        } catch {
            connection.close()
            throw error
        }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Reads what is available (up to 64 KiB), waiting until something is. `consume` sees the bytes; the
    /// result is their count, 0 when the peer closed its side.
    @discardableResult
    public func read(
        deadline: ContinuousClock.Instant?, _ consume: (UnsafeRawBufferPointer) -> Void
    ) async throws(SocketError) -> Int {
        while true {
            if isClosed { throw .closed }
            if let count = try readNow(consume) { return count }
            try await wait(.read, deadline: deadline)
        }
    }

    /// One non-blocking read: the count read (0 = EOF), or nil if nothing is available yet.
    public func readNow(_ consume: (UnsafeRawBufferPointer) -> Void) throws(SocketError) -> Int? {
        let result: Result<IOResult<Int>, SocketError> = withUnsafeTemporaryAllocation(byteCount: 65536, alignment: 16) {
            buffer in
            let result = Result { () throws(SocketError) in try socket.read(into: buffer.baseAddress!, count: buffer.count) }
            if case .success(.done(let count)) = result, count > 0 {
                consume(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
            return result
        }
        if case .done(let count) = try result.get() { return count }
        return nil
    }

    /// Writes all of `bytes`, waiting for the socket to drain when the kernel buffer is full.
    /// - Parameter stallTimeout: the longest the peer may keep the socket unwritable (not a limit on the whole
    ///   write, so large bodies to slow but live peers still go through).
    public func write(_ bytes: [UInt8], stallTimeout: Duration?) async throws(SocketError) {
        var offset = 0
        let total = bytes.count
        while offset < total {
            if isClosed { throw .closed }
            let result: Result<IOResult<Int>, SocketError> = bytes.withUnsafeBytes { storage in
                Result { () throws(SocketError) in try socket.write(storage.baseAddress! + offset, count: total - offset) }
            }
            switch try result.get() {
            case .done(let written): offset += written
            case .wouldBlock: try await wait(.write, deadline: stallTimeout.map { .now + $0 })
            }
        }
    }

    /// Closes the connection: pending waits fail with ``SocketError/closed``. Idempotent.
    public func close() {
        var waiters: [UnsafeContinuation<SocketError?, Never>] = []
        let closeNow: Bool = state.withLock { state in
            if state.closed { return false }
            state.closed = true
            for direction in [Direction.read, .write] {
                if let waiter = state[direction].waiter { waiters.append(waiter) }
                state[direction].waiter = nil
                if let source = state[direction].source {
                    if !state[direction].active { source.resume() }
                    source.cancel()
                }
            }
            return state.liveSources == 0
        }
        if closeNow { socket.close() }
        for waiter in waiters { waiter.resume(returning: .closed) }
    }

    /// Suspends until the descriptor is ready for `direction`, the deadline passes, or the socket closes.
    private func wait(_ direction: Direction, deadline: ContinuousClock.Instant?) async throws(SocketError) {
        let error: SocketError? = await withUnsafeContinuation { continuation in
            let failure: SocketError? = state.withLock { state in
                if state.closed { return .closed }
                state[direction].generation &+= 1
                state[direction].waiter = continuation
                if state[direction].source == nil {
                    state[direction].source = makeSource(direction)
                    state.liveSources += 1
                }
                if !state[direction].active {
                    state[direction].active = true
                    state[direction].source!.resume()
                }
                if let deadline {
                    let generation = state[direction].generation
                    let remaining = deadline - ContinuousClock.now
                    let nanoseconds = max(0, remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000)
                    queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) {
                        self.expire(direction, generation: generation)
                    }
                }
                return nil
            }
            if let failure { continuation.resume(returning: failure) }
        }
        if let error { throw error }
    }

    private func makeSource(_ direction: Direction) -> any DispatchSourceProtocol {
        let fd = socket.descriptor
        let source: any DispatchSourceProtocol =
            direction == .read
            ? DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            : DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [unowned self] in self.ready(direction) }
        // The cancellation handler keeps `self` alive until the source is gone; the last one closes the fd.
        source.setCancelHandler { self.sourceCancelled() }
        return source
    }

    private func ready(_ direction: Direction) {
        let waiter: UnsafeContinuation<SocketError?, Never>? = state.withLock { state in
            guard !state.closed, state[direction].active else { return nil }
            state[direction].active = false
            state[direction].source?.suspend()
            defer { state[direction].waiter = nil }
            return state[direction].waiter
        }
        waiter?.resume(returning: nil)
    }

    private func expire(_ direction: Direction, generation: UInt64) {
        let waiter: UnsafeContinuation<SocketError?, Never>? = state.withLock { state in
            guard !state.closed, state[direction].generation == generation, let waiter = state[direction].waiter else {
                return nil
            }
            state[direction].waiter = nil
            if state[direction].active {
                state[direction].active = false
                state[direction].source?.suspend()
            }
            return waiter
        }
        waiter?.resume(returning: .timeout)
    }

    private func sourceCancelled() {
        let closeNow = state.withLock { state in
            state.liveSources -= 1
            return state.liveSources == 0
        }
        if closeNow { socket.close() }
    }
}
