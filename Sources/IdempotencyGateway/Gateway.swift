@_exported import GatewayHTTP
@_exported import HTTPTypes
import GatewayBackends
import GatewayServer
import GatewaySockets
import GatewayStore
import Idempotency
import Logging
import Synchronization

/// A running idempotency gateway: the HTTP server, the idempotency engine, its key store, the backend and
/// (optionally) the admin listener.
///
/// The CLI uses ``run(configuration:)``. Test suites embed it with their own backend:
/// ```swift
/// var configuration = GatewayConfiguration()
/// configuration.listen = HostPort(host: "127.0.0.1", port: 0)  // any free port
/// configuration.admin.listen = nil
/// configuration.store.path = ":memory:"
/// let gateway = try await Gateway.start(configuration: configuration) { request in
///     GatewayResponse(status: .created, body: Array("ok".utf8))
/// }
/// // send requests to 127.0.0.1:\(gateway.port)
/// await gateway.shutdown()
/// ```
public final class Gateway: Sendable {
    public let configuration: GatewayConfiguration
    /// The engine (exposes Bloom counters and key lookups).
    public let engine: IdempotencyEngine
    private let server: HTTPServer
    private let admin: HTTPServer?
    private let store: any KeyStore
    private let upstream: UpstreamClient?
    private let logger: Logger
    private let stopped = Mutex(false)

    /// The port the gateway listens on (the real one when the configuration asked for port 0).
    public var port: UInt16 { server.address?.port ?? 0 }
    /// The admin listener's port, nil when it is off.
    public var adminPort: UInt16? { admin?.address?.port }
    /// Request-body bytes the main listener holds in memory now, against `server.max-buffered-body-bytes`
    /// (`gateway_buffered_body_bytes`).
    public var bufferedBodyBytes: Int { server.bufferedBodies.inUse }

    /// Starts a gateway. Without `backend`, requests go to `configuration.upstream.url`, or to the built-in
    /// echo backend when no upstream is configured.
    ///
    /// A `backend` that throws answers `500` (an ``HTTPResponseError`` answers its own response), which under a key
    /// is handled like a returned `500`: the key is released unless `idempotency.store-5xx` is set. Throw
    /// `UpstreamError.failed` instead when the request may have been acted on: the key then stays in flight until
    /// its lease ends.
    /// - Parameter logger: the gateway's parts (engine, store, access log, admin) log under labels of their own at
    ///   this logger's level.
    /// - Throws: ``ConfigurationError`` when ``GatewayConfiguration/validate()`` finds a problem; ``SocketError``
    ///   when a listener cannot bind; ``KeyStoreError`` when the store cannot be opened.
    public static func start(
        configuration: GatewayConfiguration, backend: (any HTTPHandler)? = nil,
        logger: Logger = Logger(label: "idempotency-gateway")
    ) async throws -> Gateway {
        try configuration.validate()
        let gateway = try Gateway(configuration: configuration, backend: backend, logger: logger)
        do {
            try await gateway.engine.start()
            try gateway.server.start()
            try gateway.admin?.start()
        } catch {
            await gateway.shutdown()
            throw error
        }
        return gateway
    }

    /// Starts a gateway whose backend is a closure (in-process test harness).
    public static func start(
        configuration: GatewayConfiguration, logger: Logger = Logger(label: "idempotency-gateway"),
        backend: @escaping @Sendable (GatewayRequest) async throws -> GatewayResponse
    ) async throws -> Gateway {
        try await start(configuration: configuration, backend: ClosureHandler(backend), logger: logger)
    }

    private init(configuration: GatewayConfiguration, backend: (any HTTPHandler)?, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        IOLoop.busyPollBudget = configuration.busyPoll
        if configuration.admin.listen != nil {
            _ = GatewayMetrics.registry  // bootstrap swift-metrics before any metric is created
            GatewayMetrics.registerRequestDurations()
        }
        // Each part logs under its own label, at the level of the logger given here.
        func partLogger(_ label: String) -> Logger {
            var part = Logger(label: label)
            part.logLevel = logger.logLevel
            return part
        }
        var storeOptions = configuration.storeOptions
        storeOptions.logger = partLogger("idempotency-gateway.store")
        let store = try SQLiteKeyStore(path: configuration.store.path, options: storeOptions)
        self.store = store
        let next: any HTTPHandler
        var proxy: ReverseProxyBackend?
        if let backend {
            next = backend
            upstream = nil
        } else if let url = configuration.upstream.url {
            let client = UpstreamClient(configuration: try configuration.upstreamConfiguration(url))
            upstream = client
            proxy = ReverseProxyBackend(client: client)
            next = proxy!
        } else {
            next = EchoBackend()
            upstream = nil
        }
        engine = IdempotencyEngine(
            configuration: configuration.engineConfiguration, store: store, next: RequestIDForwarding(next: next),
            logger: partLogger("idempotency-gateway.engine"))
        let accessLogger = partLogger("idempotency-gateway.access")
        let front = RequestLogger(
            engine: engine, logger: accessLogger, inFlight: GatewayMetrics.requestsInFlight,
            proxy: configuration.server.bytePath ? proxy : nil)
        server = HTTPServer(
            configuration: try configuration.serverConfiguration(listen: configuration.listen), handler: front,
            logger: logger)
        if let adminListen = configuration.admin.listen {
            var adminServer = try configuration.serverConfiguration(listen: adminListen)
            adminServer.maxConnections = configuration.admin.maxConnections
            // Admin requests carry no large bodies: one body's worth, not a second main-listener budget.
            adminServer.maxBufferedBodyBytes = configuration.server.maxBodyBytes
            admin = HTTPServer(
                configuration: adminServer,
                handler: AdminHandler(
                    engine: engine, store: store, upstream: upstream, token: configuration.admin.token,
                    bufferedBodies: server.bufferedBodies),
                logger: partLogger("idempotency-gateway.admin"))
        } else {
            admin = nil
        }
    }

    /// Graceful shutdown: stops accepting, lets requests in flight finish for up to `server.shutdown-grace`,
    /// stops the engine's background work and closes the store. Idempotent.
    public func shutdown() async {
        let already = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        if already { return }
        // The whole shutdown keeps to the grace period (plus a second or two), even with a handler that never returns.
        let deadline = ContinuousClock.now + configuration.server.shutdownGrace
        await server.shutdown(gracePeriod: configuration.server.shutdownGrace)
        await admin?.shutdown(gracePeriod: .seconds(1))
        await engine.shutdown(waitingAtMost: max(.zero, deadline - ContinuousClock.now))
        upstream?.close()
        await store.close()
    }
}
