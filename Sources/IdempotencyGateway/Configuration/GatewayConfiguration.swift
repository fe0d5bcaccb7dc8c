// The gateway's complete configuration: plain values with their defaults.
public import Logging

/// Everything the gateway can be configured with, after defaults, file, environment and flags are merged.
///
/// Each property documents its dotted configuration key and default. The same key is accepted in the YAML
/// file (`config/gateway.yaml`), as an environment variable (`GATEWAY_` + the key upper-cased with dots and
/// dashes turned into underscores, e.g. `GATEWAY_IDEMPOTENCY_LEASE`) and, for the common ones, as a `serve`
/// flag. Precedence: flags > environment > file > defaults. Load it with
/// ``load(overrides:environment:configFile:)``; print it with ``render()``.
public struct GatewayConfiguration: Sendable, Equatable {
    /// `listen`: where the proxy accepts client connections. Default `127.0.0.1:8080`.
    public var listen = HostPort(host: "127.0.0.1", port: 8080)
    /// `admin.*`: the admin/metrics listener.
    public var admin = AdminSettings()
    /// `upstream.*`: the origin requests are forwarded to.
    public var upstream = UpstreamSettings()
    /// `server.*`: HTTP/1.1 server limits and timeouts.
    public var server = ServerSettings()
    /// `store.*`: the SQLite key store.
    public var store = StoreSettings()
    /// `idempotency.*`: the Idempotency-Key engine.
    public var idempotency = IdempotencySettings()
    /// `log.*`: logging.
    public var log = LogSettings()

    /// The built-in defaults.
    public init() {}

    /// The defaults for a gateway embedded in a test suite: the client listener on a free loopback port
    /// (``Gateway/port`` tells which), no admin listener, and an in-memory store, so tests neither collide on ports
    /// nor leave a database file behind. Everything else is as in ``init()``.
    public static var embedded: GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.listen = HostPort(host: "127.0.0.1", port: 0)
        configuration.admin.listen = nil
        configuration.store.path = ":memory:"
        return configuration
    }

    /// `admin.*`
    public struct AdminSettings: Sendable, Equatable {
        /// `admin.listen`: the admin listener address, or `nil` for `off`. Default `127.0.0.1:9090`.
        public var listen: HostPort? = HostPort(host: "127.0.0.1", port: 9090)
        /// `admin.token`: bearer token required by the admin endpoints. Default: none. Required when
        /// `admin.listen` is not a loopback address. Never printed by ``GatewayConfiguration/render()``.
        public var token: String? = nil
        /// `admin.max-connections`: concurrent connections the admin listener accepts; beyond it new connections get
        /// `503`. Default `64`.
        public var maxConnections = 64
        /// The defaults.
        public init() {}
    }

    /// `upstream.*`
    public struct UpstreamSettings: Sendable, Equatable {
        /// `upstream.url`: the origin (`http://host:port[/base-path]`), or `nil` to use the built-in echo
        /// backend. Default: none (echo). TLS (`https://`) is not supported.
        public var url: UpstreamEndpoint? = nil
        /// `upstream.connect-timeout`: TCP connect timeout. Default `5s`.
        public var connectTimeout: Duration = .seconds(5)
        /// `upstream.timeout`: time allowed for the whole upstream exchange. Default `30s`.
        public var timeout: Duration = .seconds(30)
        /// `upstream.max-idle-connections`: pooled keep-alive connections kept open. Default `64`.
        public var maxIdleConnections = 64
        /// `upstream.max-response-body-bytes`: the largest upstream response body held whole; a larger one is
        /// answered `502`, and under a key the key stays in flight until its lease ends, since the upstream acted.
        /// Responses over `server.stream-bodies-over` are streamed (a keyed one is recorded without its body when
        /// over `idempotency.max-stored-response-bytes`), so this bounds only a larger setting of that. Default
        /// `268435456` (256MiB).
        public var maxResponseBodyBytes = 256 << 20
        /// `upstream.idle-connection-timeout`: a pooled connection idle longer than this is closed, not reused (keep
        /// it below the upstream's own keep-alive timeout). Default `30s`.
        public var idleConnectionTimeout: Duration = .seconds(30)
        /// `upstream.max-header-bytes`: largest header section of an upstream response (`502` beyond; under a key
        /// the key stays in flight until its lease ends, since the upstream acted). Default `65536` (64KiB).
        public var maxHeaderBytes = 65536
        /// `upstream.max-header-count`: most header fields in an upstream response (`502` beyond, as above).
        /// Default `100`.
        public var maxHeaderCount = 100
        /// The defaults.
        public init() {}
    }

    /// `server.*`
    public struct ServerSettings: Sendable, Equatable {
        /// `server.max-request-target`: longest request target in bytes (414 beyond). Default `8192`.
        public var maxRequestTarget = 8192
        /// `server.max-header-bytes`: largest header section in bytes (431 beyond). Default `65536` (64KiB).
        public var maxHeaderBytes = 65536
        /// `server.max-header-count`: most header fields per message (431 beyond). Default `100`.
        public var maxHeaderCount = 100
        /// `server.max-body-bytes`: largest request body in bytes (413 beyond). Default `8388608` (8MiB).
        public var maxBodyBytes = 8 << 20
        /// `server.stream-bodies-over`: request and upstream response bodies larger than this (by
        /// `Content-Length`, or chunked/close-delimited ones once they grow past it) are streamed through instead
        /// of buffered when the request passes through without idempotency; requests under a key, and smaller
        /// bodies, are buffered. Default `65536` (64KiB).
        public var streamBodiesOver = 64 << 10
        /// `server.max-buffered-body-bytes`: the most request-body bytes held in memory at once, over all
        /// connections (a request under a key is buffered whole, and stays in memory while its upstream exchange
        /// runs). A request whose body would go past it gets `503` with `Retry-After: 1` and is not forwarded. At
        /// least `server.max-body-bytes`. Default `536870912` (512MiB).
        public var maxBufferedBodyBytes = 512 << 20
        /// `server.write-timeout`: how long a client may leave its receive window full while a response is written
        /// (a client that stops reading); then the connection is closed. Default `30s`.
        public var writeTimeout: Duration = .seconds(30)
        /// `server.header-timeout`: time to receive a complete request head. Default `10s`.
        public var headerTimeout: Duration = .seconds(10)
        /// `server.body-timeout`: longest pause between two reads of a request body. Default `30s`.
        public var bodyTimeout: Duration = .seconds(30)
        /// `server.idle-timeout`: keep-alive idle time before the connection is closed. Default `60s`.
        public var idleTimeout: Duration = .seconds(60)
        /// `server.max-connections`: concurrent client connections accepted. Default `4096`.
        public var maxConnections = 4096
        /// `server.backlog`: the `listen(2)` backlog, connections the kernel queues before they are accepted (capped
        /// by `net.core.somaxconn`). Default `1024`.
        public var backlog = 1024
        /// `server.busy-poll-microseconds`: how long an event loop keeps polling after its last event before it waits
        /// for Dispatch again (an upstream's quick answer is then picked up without two thread wake-ups; it yields
        /// the CPU between polls). Process-wide (``IOLoop/busyPollBudget``), set when a gateway starts. `0` turns it
        /// off, for hosts where idle CPU is billed. Default `100`.
        public var busyPollMicroseconds = 100
        /// Whether plain requests to a reverse-proxy upstream take the byte path (``RequestLogger``'s
        /// ``ByteForwarding``). Not a configuration key: both paths send the same bytes, and the tests that show it
        /// turn the byte path off to compare.
        var bytePath = true
        /// `server.shutdown-grace`: time in-flight requests get to finish on SIGTERM/SIGINT. Default `10s`.
        public var shutdownGrace: Duration = .seconds(10)
        /// The defaults.
        public init() {}
    }

    /// `store.*`
    public struct StoreSettings: Sendable, Equatable {
        /// `store.path`: SQLite database file (its directory is created), or `:memory:`.
        /// Default `data/idempotency.sqlite`.
        public var path = "data/idempotency.sqlite"
        /// `store.quick-check`: run `PRAGMA quick_check` at start and refuse a damaged file. It reads the whole
        /// file, so a very large store starts slower. Default `true`.
        public var quickCheck = true
        /// `store.synchronous`: SQLite `PRAGMA synchronous`. Default `normal`.
        public var synchronous = SynchronousMode.normal
        /// `store.busy-timeout`: SQLite busy timeout. Default `5s`.
        public var busyTimeout: Duration = .seconds(5)
        /// `store.compression-threshold`: stored bodies at least this large are zlib-compressed. Default `1024`.
        public var compressionThreshold = 1024
        /// `store.checkpoint-interval`: how often a background connection checkpoints the WAL into the database file,
        /// so commits never wait for a checkpoint. `0` leaves checkpoints to SQLite inside the writer's commits.
        /// Default `250ms`.
        public var checkpointInterval: Duration = .milliseconds(250)
        /// The defaults.
        public init() {}

        /// `true` when ``path`` is SQLite's in-memory database.
        public var isInMemory: Bool { path == ":memory:" }

        /// Values of `store.synchronous`.
        public enum SynchronousMode: String, Sendable, Equatable, CaseIterable {
            /// `PRAGMA synchronous = NORMAL`: durable except against power loss in WAL mode.
            case normal
            /// `PRAGMA synchronous = FULL`: fsync on every commit.
            case full
        }
    }

    /// `idempotency.*`
    public struct IdempotencySettings: Sendable, Equatable {
        /// `idempotency.key-ttl`: how long a completed key is remembered. Default `24h`.
        public var keyTTL: Duration = .seconds(24 * 3600)
        /// `idempotency.lease`: how long an in-flight claim is held before another request may take over.
        /// Default `60s`.
        public var lease: Duration = .seconds(60)
        /// `idempotency.require-key`: reject covered requests without `Idempotency-Key` (400). Default `false`.
        public var requireKey = false
        /// `idempotency.methods`: methods covered by the engine (upper-cased). Default `[POST, PATCH]`.
        public var methods = ["POST", "PATCH"]
        /// `idempotency.max-key-length`: longest accepted key in characters. Default `255`.
        public var maxKeyLength = 255
        /// `idempotency.scope-headers`: request headers whose values partition the key space (e.g. per
        /// credential). Default `[Authorization]`.
        public var scopeHeaders = ["Authorization"]
        /// `idempotency.fingerprint-headers`: request headers included in the payload fingerprint besides
        /// method, target and body. Default `[Content-Type]`.
        public var fingerprintHeaders = ["Content-Type"]
        /// `idempotency.store-5xx`: remember 5xx responses too (otherwise the key is released). Default `false`.
        public var store5xx = false
        /// `idempotency.max-stored-response-bytes`: larger responses are passed through but not stored.
        /// Default `4194304` (4MiB).
        public var maxStoredResponseBytes = 4 << 20
        /// `idempotency.max-buffered-response-bytes`: the most bytes of keyed response bodies held in memory at once
        /// while they are read to be stored (each up to `idempotency.max-stored-response-bytes`); a body that would
        /// go past it is streamed to its client and stored without its body, like a larger one. At least
        /// `idempotency.max-stored-response-bytes`. Default `536870912` (512MiB).
        public var maxBufferedResponseBytes = 512 << 20
        /// `idempotency.fail-open`: when the store fails, forward without idempotency instead of answering 503.
        /// Default `false`.
        public var failOpen = false
        /// `idempotency.max-in-flight`: the most upstream exchanges under a key at once (they can outlive their
        /// clients until their leases end); beyond it a new key gets `503`. Default `4096`.
        public var maxInFlight = 4096
        /// `idempotency.unstored-queue-bytes`: response bytes kept in memory while storing them is retried after a
        /// store failure (bodies plus 256 per response; at most `idempotency.unstored-queue-entries` responses). A
        /// response that does not fit is not retried, and a retry after its key's lease is forwarded again. Default
        /// `67108864` (64MiB).
        public var unstoredQueueBytes = 64 << 20
        /// `idempotency.unstored-queue-entries`: the most responses kept in memory while storing them is retried after
        /// a store failure (within `idempotency.unstored-queue-bytes`); one beyond it is not retried, as above.
        /// Default `1024`.
        public var unstoredQueueEntries = 1024
        /// `idempotency.dropped-response-headers`: response headers never stored nor replayed.
        /// Default `[Set-Cookie]`.
        public var droppedResponseHeaders = ["Set-Cookie"]
        /// `idempotency.sweep-interval`: how often expired keys are deleted. Default `60s`.
        public var sweepInterval: Duration = .seconds(60)
        /// `idempotency.sweep-batch`: most keys deleted per sweep statement. Default `500`.
        public var sweepBatch = 500
        /// `idempotency.bloom.*`: the Bloom filter in front of the store.
        public var bloom = BloomSettings()
        /// `idempotency.hot-cache-bytes`: in-memory cache of recent responses. Default `67108864` (64MiB).
        public var hotCacheBytes = 64 << 20
        /// `idempotency.hot-cache-max-age`: how long a response is replayed from memory before it is checked against
        /// the store again, in the background (bounds how long a deletion by another process goes unseen). Default
        /// `1s`.
        public var hotCacheMaxAge: Duration = .seconds(1)
        /// `idempotency.documentation-url`: base URL of the problem `type` URIs.
        /// Default `https://github.com/idempotency-gateway/idempotency-gateway/blob/main/README.md#`.
        public var documentationURL = "https://github.com/idempotency-gateway/idempotency-gateway/blob/main/README.md#"
        /// `idempotency.routes`: per-path overrides, the longest matching path prefix wins (YAML file only). Default: none.
        public var routes: [RouteRule] = []
        /// The defaults.
        public init() {}

        /// `idempotency.bloom.*`
        public struct BloomSettings: Sendable, Equatable {
            /// `idempotency.bloom.expected-keys`: sizing hint for the filter. Default `1000000`.
            public var expectedKeys = 1_000_000
            /// `idempotency.bloom.false-positive-rate`: target rate, between 0 and 1. Default `0.001`.
            public var falsePositiveRate = 0.001
            /// The defaults.
            public init() {}
        }
    }

    /// One entry of `idempotency.routes`: settings for requests whose path starts with ``pathPrefix``.
    /// `nil` fields inherit the global `idempotency.*` value.
    public struct RouteRule: Sendable, Equatable {
        /// `path-prefix` (required): matched against the request path; must start with `/`.
        public var pathPrefix: String
        /// `methods`: covered methods on this route.
        public var methods: [String]?
        /// `require-key`: whether the key is mandatory on this route.
        public var requireKey: Bool?
        /// `key-ttl`: key retention on this route.
        public var keyTTL: Duration?
        /// `lease`: in-flight lease on this route.
        public var lease: Duration?

        /// Creates a rule; unspecified settings inherit the global ones.
        public init(
            pathPrefix: String,
            methods: [String]? = nil,
            requireKey: Bool? = nil,
            keyTTL: Duration? = nil,
            lease: Duration? = nil
        ) {
            self.pathPrefix = pathPrefix
            self.methods = methods
            self.requireKey = requireKey
            self.keyTTL = keyTTL
            self.lease = lease
        }
    }

    /// `log.*`
    public struct LogSettings: Sendable, Equatable {
        /// `log.level`: trace, debug, info, notice, warning, error or critical. Default `info`.
        public var level = Logger.Level.info
        /// `log.format`: `text` (human-readable) or `json` (one object per line). Default `text`.
        public var format = Format.text
        /// The defaults.
        public init() {}

        /// Values of `log.format`.
        public enum Format: String, Sendable, Equatable, CaseIterable {
            /// `<timestamp> <level> <label>: <message> key=value…`
            case text
            /// `{"ts":…,"level":…,"label":…,"message":…,<metadata>}`
            case json
        }
    }
}
