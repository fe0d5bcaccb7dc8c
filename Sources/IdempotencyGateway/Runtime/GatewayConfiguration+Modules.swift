import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import GatewayStore
import HTTPTypes
import Idempotency

/// Maps the user-facing configuration onto each module's own settings.
extension GatewayConfiguration {
    func serverConfiguration(listen: HostPort) throws(SocketError) -> ServerConfiguration {
        ServerConfiguration(
            address: try SocketAddress.resolve(host: listen.host, port: listen.port),
            limits: HTTPLimits(
                maxRequestTargetLength: server.maxRequestTarget,
                maxHeaderSectionSize: server.maxHeaderBytes,
                maxHeaderCount: server.maxHeaderCount,
                maxBodySize: server.maxBodyBytes),
            headerTimeout: server.headerTimeout,
            bodyTimeout: server.bodyTimeout,
            idleTimeout: server.idleTimeout,
            writeTimeout: server.writeTimeout,
            maxConnections: server.maxConnections,
            backlog: Int32(clamping: server.backlog),
            streamBodiesOver: server.streamBodiesOver,
            maxBufferedBodyBytes: server.maxBufferedBodyBytes)
    }

    func upstreamConfiguration(_ endpoint: UpstreamEndpoint) throws(SocketError) -> GatewayBackends.UpstreamConfiguration {
        GatewayBackends.UpstreamConfiguration(
            address: try SocketAddress.resolve(host: endpoint.address.host, port: endpoint.address.port),
            basePath: endpoint.basePath,
            connectTimeout: upstream.connectTimeout,
            responseTimeout: upstream.timeout,
            maxIdleConnections: upstream.maxIdleConnections,
            idleConnectionTimeout: upstream.idleConnectionTimeout,
            maxResponseBodySize: upstream.maxResponseBodyBytes,
            streamResponsesOver: server.streamBodiesOver,
            responseLimits: HTTPLimits(maxHeaderSectionSize: upstream.maxHeaderBytes, maxHeaderCount: upstream.maxHeaderCount))
    }

    /// The event loops' busy-poll time (``IOLoop/busyPollBudget``, process-wide).
    var busyPoll: Duration { .microseconds(server.busyPollMicroseconds) }

    var storeOptions: SQLiteKeyStore.Options {
        SQLiteKeyStore.Options(
            synchronous: store.synchronous == .full ? .full : .normal,
            busyTimeout: store.busyTimeout,
            compressionThreshold: store.compressionThreshold,
            quickCheckAtOpen: store.quickCheck,
            // A stored body is read back only up to this size (a guard against a damaged row inflating without
            // bound): never below what the engine may store.
            maxBodyBytes: max(64 << 20, idempotency.maxStoredResponseBytes),
            checkpointInterval: store.checkpointInterval > .zero ? store.checkpointInterval : nil)
    }

    var engineConfiguration: IdempotencyConfiguration {
        let settings = idempotency
        return IdempotencyConfiguration(
            methods: Set(settings.methods.compactMap { HTTPRequest.Method($0.uppercased()) }),
            routes: settings.routes.map { rule in
                IdempotencyConfiguration.Route(
                    pathPrefix: rule.pathPrefix,
                    methods: rule.methods.map { Set($0.compactMap { HTTPRequest.Method($0.uppercased()) }) },
                    requireKey: rule.requireKey,
                    ttl: rule.keyTTL,
                    lease: rule.lease)
            },
            requireKey: settings.requireKey,
            maxKeyLength: settings.maxKeyLength,
            ttl: settings.keyTTL,
            lease: settings.lease,
            upstreamTimeout: upstream.timeout,
            scopeHeaders: settings.scopeHeaders.compactMap { HTTPField.Name($0) },
            fingerprintHeaders: settings.fingerprintHeaders.compactMap { HTTPField.Name($0) },
            store5xx: settings.store5xx,
            droppedResponseHeaders: settings.droppedResponseHeaders.compactMap { HTTPField.Name($0) },
            maxStoredResponseBytes: settings.maxStoredResponseBytes,
            maxBufferedResponseBytes: settings.maxBufferedResponseBytes,
            failOpen: settings.failOpen,
            maxInFlight: settings.maxInFlight,
            unstoredQueueBytes: settings.unstoredQueueBytes,
            unstoredQueueEntries: settings.unstoredQueueEntries,
            bloomExpectedKeys: settings.bloom.expectedKeys,
            bloomFalsePositiveRate: settings.bloom.falsePositiveRate,
            hotCacheBytes: settings.hotCacheBytes,
            hotCacheMaxAge: settings.hotCacheMaxAge,
            sweepInterval: settings.sweepInterval,
            sweepBatch: settings.sweepBatch,
            documentationBaseURL: settings.documentationURL)
    }
}
