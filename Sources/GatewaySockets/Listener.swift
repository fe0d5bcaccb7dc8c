#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// A listening TCP socket that accepts connections from a Dispatch read source.
///
/// Each accepted connection is handed to `onAccept` as a non-blocking ``Socket`` (the callee owns it).
public final class Listener: Sendable {
    /// The address actually bound (with the kernel's port when port 0 was asked for).
    public let address: SocketAddress
    private let socket: Socket
    /// The accept source and whether it was activated (an inactive source must be activated before release).
    private let source: Mutex<(source: (any DispatchSourceRead)?, started: Bool)>

    /// Binds and listens; accepting starts with ``start()``.
    public init(
        address: SocketAddress, backlog: Int32 = 1024, queue: DispatchQueue,
        onAccept: @escaping @Sendable (Socket, SocketAddress?) -> Void
    ) throws(SocketError) {
        let socket = try Socket.listen(on: address, backlog: backlog)
        self.socket = socket
        self.address = socket.localAddress() ?? address
        let source = DispatchSource.makeReadSource(fileDescriptor: socket.descriptor, queue: queue)
        // Weak: the handler belongs to the source (a strong capture would be a cycle).
        source.setEventHandler { [weak paused = source as? DispatchSource] in
            // Drain the accept queue: one readiness event may stand for many connections.
            while true {
                switch Result(catching: { () throws(SocketError) in try socket.accept() }) {
                case .success(.done(let (client, peer))): onAccept(client, peer)
                case .success(.wouldBlock): return
                case .failure(let error):
                    // EMFILE/ENFILE/ECONNABORTED…: give up on this round; the source fires again.
                    if case .system(_, let code) = error, code == EMFILE || code == ENFILE, let paused {
                        // Out of descriptors: stop watching the listener for 50 ms instead of spinning on it (the
                        // pending connections wait in the backlog meanwhile).
                        paused.suspend()
                        queue.asyncAfter(deadline: .now() + .milliseconds(50)) { paused.resume() }
                    }
                    return
                }
            }
        }
        source.setCancelHandler { socket.close() }
        self.source = Mutex((source, false))
    }

    /// Starts accepting.
    public func start() {
        source.withLock { state in
            guard let source = state.source, !state.started else { return }
            state.started = true
            source.resume()
        }
    }

    /// Stops accepting and closes the listening socket. Idempotent.
    public func stop() {
        let source: (any DispatchSourceRead)? = self.source.withLock { state in
            guard let source = state.source else { return nil }
            if !state.started { source.resume() }
            state = (nil, true)
            return source
        }
        source?.cancel()
    }

    deinit {
        stop()
    }
}
