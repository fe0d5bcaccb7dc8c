import HTTPTypes

/// Every knob of the idempotency layer, with its default. A plain value: build it once, hand it to
/// ``IdempotencyEngine``.
public struct IdempotencyConfiguration: Sendable {
    /// Methods covered by the default route. Default `POST` and `PATCH`, the methods the draft is written for
    /// (draft-ietf-httpapi-idempotency-key-header-07 §1). Requests with any other method are forwarded untouched
    /// even when they carry an `Idempotency-Key` (the header is ignored, not rejected).
    public var methods: Set<HTTPRequest.Method>

    /// Per-path overrides. The route with the longest matching ``Route/pathPrefix`` wins; a request no route
    /// matches uses the default route made of ``methods``, ``requireKey``, ``ttl`` and ``lease``.
    public var routes: [Route]

    /// Whether covered requests must carry a key. Default `false`: a covered request without a key is forwarded
    /// without idempotency (outcome `passthrough`). When `true` it gets `400` with a problem body whose `type`
    /// points at the documentation (draft §2.7, outcome `missing_key`).
    public var requireKey: Bool

    /// The longest accepted key, in characters (all keys are ASCII). Default 255, like Stripe. Keys are at least
    /// one character long.
    public var maxKeyLength: Int

    /// How long a completed record is kept and replayed. Default 24 hours. After it, the same key starts a new
    /// request (draft §2.3 lets a resource expire keys and asks it to publish the policy).
    public var ttl: Duration

    /// How long a claimed key stays "in flight" before another request may take it over (crash recovery).
    /// Default 60 seconds. While the lease runs, duplicates get `409` with `Retry-After`; after it ends without a
    /// stored response, a retry is forwarded again (at-least-once from that point).
    public var lease: Duration

    /// How long a client waits for the upstream before it gets `504`. Default 30 seconds. The gateway keeps
    /// waiting in the background until the lease ends and stores a late response for the retry.
    public var upstreamTimeout: Duration

    /// Request headers whose values form the record's scope (hashed with SHA-256; never stored in clear).
    /// Default `Authorization`, so two principals using the same key do not see each other's responses
    /// (draft §5). With none of them present the scope is the empty string (shared).
    public var scopeHeaders: [HTTPField.Name]

    /// Request headers included in the fingerprint besides method, path with query and body. Default
    /// `Content-Type`.
    public var fingerprintHeaders: [HTTPField.Name]

    /// Whether backend `5xx` responses are stored and replayed (Stripe's policy). Default `false`: the key is
    /// released so the client may retry it (at-least-once for server errors; outcome `released`).
    public var store5xx: Bool

    /// Response headers never stored or replayed besides the hop-by-hop fields of RFC 9110 §7.6.1 (`Connection`,
    /// `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-*` by prefix, and the fields `Connection`
    /// names), which are never stored whatever this says. Default: `Set-Cookie` (a session must not be replayed to
    /// whoever retries). `Content-Length` is always recomputed by the server. The first response is returned to its
    /// client unchanged, `Set-Cookie` included.
    public var droppedResponseHeaders: [HTTPField.Name]

    /// The largest response body stored for replay. Default 4 MiB. A larger response is returned in full to its
    /// client, and a record is stored with its status and headers but no body, so the backend never runs twice
    /// for the key; a retry gets the status and headers (without `Content-Type` and `Content-Encoding`), an empty
    /// body, `Idempotent-Replayed: true` and `Idempotent-Replay-Body: omitted`.
    public var maxStoredResponseBytes: Int

    /// The most bytes of keyed response bodies held in memory at once while they are read to be stored (each up to
    /// ``maxStoredResponseBytes``; a body the upstream client returns whole, up to its streaming threshold, is not
    /// counted). A body that would go past it is handled as one over ``maxStoredResponseBytes``: streamed to the
    /// client, stored without its body, and counted. Without it the bound would be ``maxInFlight`` ×
    /// ``maxStoredResponseBytes`` (16 GiB by default). Keep it at least ``maxStoredResponseBytes`` (the gateway's
    /// configuration refuses less; an engine built with less streams every body that does not fit beside the others
    /// held). Default 512 MiB.
    public var maxBufferedResponseBytes: Int

    /// What to do when the key store fails. Default `false` (fail closed): `503` with `Retry-After: 1`
    /// (outcome `store_error`). When `true`, the request is forwarded without idempotency, the response carries
    /// `Idempotency-Degraded: true`, and a warning is logged (outcome `fail_open`).
    public var failOpen: Bool

    /// The most upstream exchanges under a key running at once. An exchange can outlive its client (after a `504`,
    /// or a client that went away it keeps running until its lease ends), so without a cap a slow upstream would
    /// pile them up, each holding a connection. Beyond it a new key gets `503` with `Retry-After: 1`, before it is
    /// claimed; a key completed, or in flight within its lease, is still answered (`409`, replay or `422`).
    /// Default 4096.
    public var maxInFlight: Int

    /// The most response bytes (bodies, plus 256 per response) kept in memory while storing them is retried after
    /// the store failed (``UnstoredResponses``; at most ``unstoredQueueEntries`` responses). A response that does not
    /// fit is not retried: a retry after its key's lease is forwarded again. Default 64 MiB.
    public var unstoredQueueBytes: Int

    /// The most responses kept in memory while storing them is retried after the store failed (``UnstoredResponses``,
    /// within ``unstoredQueueBytes``). A response beyond it is not retried: a retry after its key's lease is forwarded
    /// again. At least 1. Default 1024.
    public var unstoredQueueEntries: Int

    /// How many keys the Bloom filter is sized for. Default 1,000,000.
    public var bloomExpectedKeys: Int

    /// The Bloom filter's target false-positive rate at ``bloomExpectedKeys``. Default 0.001.
    public var bloomFalsePositiveRate: Double

    /// The memory budget of the hot cache of completed responses, in bytes. Default 64 MiB. `0` disables it.
    public var hotCacheBytes: Int

    /// How long a completed record is replayed from the hot cache before it is checked against the store again (one
    /// background read, while the replay goes on). It bounds how long a deletion by another process (the `keys
    /// delete` command, another gateway on the same file) goes unseen, at the cost of one store read per period for
    /// a key replayed continuously. Default 1 second.
    public var hotCacheMaxAge: Duration

    /// How often expired records are swept from the store. Default 60 seconds.
    public var sweepInterval: Duration

    /// How many expired records one sweep statement deletes before yielding. Default 500.
    public var sweepBatch: Int

    /// The base of the problem `type` URIs; an anchor such as `problem-missing-key` is appended.
    public var documentationBaseURL: String

    /// The default documentation base: the README on GitHub.
    public static let defaultDocumentationBaseURL =
        "https://github.com/idempotency-gateway/idempotency-gateway/blob/main/README.md#"

    /// The default response headers never stored besides the hop-by-hop ones: the credential-bearing `Set-Cookie`.
    public static let defaultDroppedResponseHeaders: [HTTPField.Name] = [.setCookie]

    public init(
        methods: Set<HTTPRequest.Method> = [.post, .patch],
        routes: [Route] = [],
        requireKey: Bool = false,
        maxKeyLength: Int = 255,
        ttl: Duration = .seconds(86_400),
        lease: Duration = .seconds(60),
        upstreamTimeout: Duration = .seconds(30),
        scopeHeaders: [HTTPField.Name] = [.authorization],
        fingerprintHeaders: [HTTPField.Name] = [.contentType],
        store5xx: Bool = false,
        droppedResponseHeaders: [HTTPField.Name] = Self.defaultDroppedResponseHeaders,
        maxStoredResponseBytes: Int = 4 * 1024 * 1024,
        maxBufferedResponseBytes: Int = 512 * 1024 * 1024,
        failOpen: Bool = false,
        maxInFlight: Int = 4096,
        unstoredQueueBytes: Int = 64 * 1024 * 1024,
        unstoredQueueEntries: Int = 1024,
        bloomExpectedKeys: Int = 1_000_000,
        bloomFalsePositiveRate: Double = 0.001,
        hotCacheBytes: Int = 64 * 1024 * 1024,
        hotCacheMaxAge: Duration = .seconds(1),
        sweepInterval: Duration = .seconds(60),
        sweepBatch: Int = 500,
        documentationBaseURL: String = Self.defaultDocumentationBaseURL
    ) {
        self.methods = methods
        self.routes = routes
        self.requireKey = requireKey
        self.maxKeyLength = maxKeyLength
        self.ttl = ttl
        self.lease = lease
        self.upstreamTimeout = upstreamTimeout
        self.scopeHeaders = scopeHeaders
        self.fingerprintHeaders = fingerprintHeaders
        self.store5xx = store5xx
        self.droppedResponseHeaders = droppedResponseHeaders
        self.maxStoredResponseBytes = maxStoredResponseBytes
        self.maxBufferedResponseBytes = maxBufferedResponseBytes
        self.failOpen = failOpen
        self.maxInFlight = maxInFlight
        self.unstoredQueueBytes = unstoredQueueBytes
        self.unstoredQueueEntries = unstoredQueueEntries
        self.bloomExpectedKeys = bloomExpectedKeys
        self.bloomFalsePositiveRate = bloomFalsePositiveRate
        self.hotCacheBytes = hotCacheBytes
        self.hotCacheMaxAge = hotCacheMaxAge
        self.sweepInterval = sweepInterval
        self.sweepBatch = sweepBatch
        self.documentationBaseURL = documentationBaseURL
    }

    /// Idempotency settings for the paths under one prefix. Settings left `nil` inherit the top-level ones.
    public struct Route: Sendable, Equatable {
        /// A path prefix matched on segment boundaries: `/orders` matches `/orders`, `/orders/7` and
        /// `/orders?x=1`, not `/orders-archive`. A prefix ending in `/` matches everything below it; `/` matches
        /// every path. Both the prefix and the request path are compared in their ``RoutePath`` normal form, so
        /// `/orders/./7`, `/x/../orders`, `//orders` and `/%6Frders` match `/orders` too. The prefix is stored
        /// normalised: setting `/a//b/.` reads back as `/a/b/` (and a `?query` in it is dropped).
        public var pathPrefix: String {
            get { normalizedPrefix }
            set { normalizedPrefix = String(RoutePath.normalized(newValue)) }
        }
        /// ``pathPrefix`` in ``RoutePath`` normal form, computed once at configuration time.
        private var normalizedPrefix: String
        /// Methods covered on this route; `nil` inherits ``IdempotencyConfiguration/methods``. An empty set turns
        /// idempotency off for the route.
        public var methods: Set<HTTPRequest.Method>?
        /// Whether a key is required on this route; `nil` inherits ``IdempotencyConfiguration/requireKey``.
        public var requireKey: Bool?
        /// How long completed records of this route live; `nil` inherits ``IdempotencyConfiguration/ttl``.
        public var ttl: Duration?
        /// How long an in-flight key of this route is held; `nil` inherits ``IdempotencyConfiguration/lease``.
        public var lease: Duration?

        public init(
            pathPrefix: String, methods: Set<HTTPRequest.Method>? = nil, requireKey: Bool? = nil,
            ttl: Duration? = nil, lease: Duration? = nil
        ) {
            self.normalizedPrefix = String(RoutePath.normalized(pathPrefix))
            self.methods = methods
            self.requireKey = requireKey
            self.ttl = ttl
            self.lease = lease
        }

        /// Whether `path` (origin form, possibly with a query) lies under ``pathPrefix``, once normalised
        /// (``RoutePath``).
        public func matches(path: String) -> Bool {
            matches(normalizedPath: RoutePath.normalized(path))
        }

        /// Whether `path`, already in ``RoutePath`` normal form (so without a query), lies under ``pathPrefix``.
        /// Compares bytes: paths are ASCII on the wire, and no Unicode equivalence applies to them.
        func matches(normalizedPath path: Substring) -> Bool {
            let prefix = normalizedPrefix.utf8
            guard path.utf8.starts(with: prefix) else { return false }
            if prefix.last == UInt8(ascii: "/") { return true }
            guard let next = path.utf8.dropFirst(prefix.count).first else { return true }
            return next == UInt8(ascii: "/")
        }
    }

    /// The settings that apply to one request, after route matching.
    public struct ResolvedRoute: Sendable, Equatable {
        /// The matching route's prefix, `nil` for the default route.
        public var pathPrefix: String?
        public var methods: Set<HTTPRequest.Method>
        public var requireKey: Bool
        public var ttl: Duration
        public var lease: Duration
    }

    /// The settings for `path`: the matching route with the longest prefix, else the defaults. Routes are matched
    /// against the normalised path (``RoutePath``), so dot segments, doubled slashes and percent-encoded unreserved
    /// characters cannot step around a route's rules; `path` itself is not changed.
    public func route(for path: String) -> ResolvedRoute {
        var best: Route?
        if !routes.isEmpty {  // no routes (the usual case): no need to normalise the path on every request
            let normalized = RoutePath.normalized(path)
            for route in routes where route.matches(normalizedPath: normalized) {
                if best == nil || route.pathPrefix.utf8.count > best!.pathPrefix.utf8.count { best = route }
            }
        }
        return ResolvedRoute(
            pathPrefix: best?.pathPrefix,
            methods: best?.methods ?? methods,
            requireKey: best?.requireKey ?? requireKey,
            ttl: best?.ttl ?? ttl,
            lease: best?.lease ?? lease
        )
    }
}

extension Duration {
    /// Whole milliseconds (rounded towards zero), for ``Timestamp`` arithmetic.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
