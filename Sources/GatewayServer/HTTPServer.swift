import Dispatch
import GatewayHTTP
import GatewaySockets
import Logging
import Synchronization

/// A NIO-free HTTP/1.1 server: a ``Listener`` accepts connections, and each connection runs as one task that
/// reads requests through ``HTTPRequestDecoder``, hands them to the handler in order (pipelining), and writes
/// the responses; or, while its requests are plain forwards of a ``LoopForwarding`` handler, is driven by its
/// loop's events without a task (``LoopDrivenConnection``). No thread is dedicated to a connection and no thread
/// blocks on the network.
public final class HTTPServer: Sendable {
    public let configuration: ServerConfiguration
    private let handler: any HTTPHandler
    private let logger: Logger
    private let loops: IOLoopGroup
    private let queue = DispatchQueue(label: "idempotency-gateway.accept")
    private let state = Mutex(State())
    /// Set once shutdown begins (under the state's lock, so no connection is accepted after it); connections read it
    /// after every response (an atomic, so that reading it takes no lock and no reference to the server).
    private let shuttingDown = ShutdownFlag()
    /// Request-body bytes held in memory, over all connections (``ServerConfiguration/maxBufferedBodyBytes``).
    public let bufferedBodies: BufferedBodyBudget

    private struct State {
        var listener: Listener?
        var connections: [ObjectIdentifier: ServerConnection] = [:]
        var boundAddress: SocketAddress?
    }

    /// - Parameter loops: the event loops connections are spread over (one per core by default).
    public init(
        configuration: ServerConfiguration, handler: any HTTPHandler, logger: Logger = Logger(label: "http-server"),
        loops: IOLoopGroup = .shared
    ) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.loops = loops
        self.bufferedBodies = BufferedBodyBudget(limit: configuration.maxBufferedBodyBytes)
    }

    /// Binds, listens and starts accepting.
    public func start() throws(SocketError) {
        ignoreSIGPIPE()
        let listener = try Listener(address: configuration.address, backlog: configuration.backlog, queue: queue) {
            [weak self] socket, peer in
            guard let self else {
                socket.close()
                return
            }
            self.accept(socket, peer: peer)
        }
        state.withLock {
            $0.listener = listener
            $0.boundAddress = listener.address
        }
        listener.start()
        logger.info("listening", metadata: ["address": "\(listener.address)"])
    }

    /// The bound address (the real port when port 0 was configured). Nil before ``start()``.
    public var address: SocketAddress? { state.withLock { $0.boundAddress } }

    /// Open client connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Graceful shutdown: stops accepting, closes idle keep-alive connections, lets requests in flight finish
    /// (their responses carry `Connection: close`) for up to `gracePeriod`, then closes whatever is left. Returns at
    /// most a second after that: a connection whose handler never returns has its socket closed, and its task ends
    /// whenever the handler does.
    public func shutdown(gracePeriod: Duration) async {
        let (listener, connections) = state.withLock { state in
            shuttingDown.set()
            defer { state.listener = nil }
            return (state.listener, Array(state.connections.values))
        }
        listener?.stop()
        for connection in connections { connection.closeIfIdle() }
        let deadline = ContinuousClock.now + gracePeriod
        while connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let remaining = state.withLock { Array($0.connections.values) }
        if !remaining.isEmpty {
            logger.warning("closing connections after the grace period", metadata: ["count": "\(remaining.count)"])
        }
        for connection in remaining { connection.forceClose() }
        let abandon = ContinuousClock.now + .seconds(1)
        while connectionCount > 0, ContinuousClock.now < abandon { try? await Task.sleep(for: .milliseconds(5)) }
        if connectionCount > 0 {
            logger.warning(
                "handlers still running after shutdown; their connections are closed",
                metadata: ["count": "\(connectionCount)"])
        }
    }

    private func accept(_ socket: Socket, peer: SocketAddress?) {
        let loop = loops.next()
        let accepted: ServerConnection? = state.withLock { state in
            guard !shuttingDown.isSet, state.connections.count < configuration.maxConnections else { return nil }
            let connection = ServerConnection(
                socket: AsyncSocket(socket: socket, peer: peer, loop: loop), shuttingDown: shuttingDown,
                handler: handler, configuration: configuration, bodyBudget: bufferedBodies, logger: logger
            )
            state.connections[ObjectIdentifier(connection)] = connection
            return connection
        }
        guard let connection = accepted else {
            // Over the limit (or shutting down): a best-effort 503, then close.
            OverloadResponse.bytes().withUnsafeBytes { _ = try? socket.write($0.baseAddress!, count: $0.count) }
            socket.close()
            logger.debug("connection refused: limit reached", metadata: ["max": "\(configuration.maxConnections)"])
            return
        }
        socket.setNoDelay()
        connection.start { self.remove(connection) }
    }

    private func remove(_ connection: ServerConnection) {
        _ = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }
}

/// Whether the server is shutting down, shared with its connections.
final class ShutdownFlag: Sendable {
    private let value = Atomic(false)

    /// Sequentially consistent, as a connection's idle flag is (``ServerConnection/markIdle()``): a connection that
    /// goes idle as shutdown begins is closed by one side or the other.
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }

    func set() { value.store(true, ordering: .sequentiallyConsistent) }
}

/// Writes to a closed peer must fail with EPIPE rather than kill the process. Sends use MSG_NOSIGNAL already;
/// this also covers anything else in the process that writes to sockets.
private func ignoreSIGPIPE() {
    _ = signal(SIGPIPE, SIG_IGN)
}

#if canImport(Glibc)
import Glibc
#endif
