import GatewayHTTP
import GatewayStore
import HTTPTypes
import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The exactly-once engine: an ``HTTPHandler`` in front of the backend (`next`) that makes covered requests
/// safe to retry with an `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header-07).
///
/// ## Policies
///
/// - **Covered requests.** By default `POST` and `PATCH` (draft §1); per-path ``IdempotencyConfiguration/Route``s
///   override methods, whether a key is required, the TTL and the lease (longest prefix wins). Other requests are
///   forwarded untouched, even with a key (outcome `passthrough`): their bodies may be streamed both ways
///   (``acceptsStreamedBody(for:)``, ``GatewayRequest/allowsStreamedResponse``), since nothing here reads them.
/// - **Key.** See ``IdempotencyKey``: the draft's sf-string or a bare visible-ASCII token, 1–255 characters;
///   invalid or repeated → `400` (`invalid_key`). Missing → `400` when the route requires a key (`missing_key`,
///   draft §2.7), else forwarded without idempotency (`passthrough`). The header is forwarded to the backend
///   unchanged.
/// - **Scope.** Records are kept per scope: the SHA-256 of the ``IdempotencyConfiguration/scopeHeaders``
///   (default `Authorization`), so a key is private to its principal (draft §5). Credentials are never stored
///   or logged in clear.
/// - **Fingerprint.** SHA-256 over method, path with query, configured headers (default `Content-Type`) and
///   body (``RequestFingerprint``). The same key with another fingerprint → `422` (`mismatch`, draft §2.2/§2.7);
///   the stored record is untouched and still replays to the original request. Mismatch is checked before the
///   in-flight state, so a different request gets `422` even while the original runs.
/// - **New key.** The key is claimed durably as in flight, with a lease (default 60 s) and a random owner
///   token, *before* the request is forwarded; then the response is stored and returned (`forwarded`). The
///   first client gets the backend's response unchanged (`Set-Cookie` included).
/// - **Concurrent duplicate.** While the original is in flight → `409` with `Retry-After` = the lease's
///   remaining whole seconds, rounded up, at least 1 (`conflict`, draft §2.6/§2.7).
/// - **Completed.** The stored status, headers and body are replayed byte for byte with
///   `Idempotent-Replayed: true` (`replayed`); hop-by-hop fields and `Set-Cookie` are not stored
///   (``ResponseRecorder``). Replays of recently completed keys come from the in-memory ``HotCache`` without
///   touching the store.
/// - **Backend outcomes.** `1xx`–`4xx` responses are stored and replayed. A `5xx` releases the key so the client
///   may retry (`released`, at-least-once for server errors), unless ``IdempotencyConfiguration/store5xx`` stores
///   and replays it like Stripe. An unreachable upstream (nothing was sent) → `502`, key released (`released`).
///   An upstream timeout, or no answer within ``IdempotencyConfiguration/upstreamTimeout`` → `504`, but the key
///   stays in flight and the gateway keeps waiting in the background until the lease ends; a response that
///   arrives by then is stored and replayed to the retry. An exchange that broke after the request was sent
///   (``UpstreamError/failed(_:)``, and any other error a backend throws) → `502`, key kept in flight until its
///   lease ends: the upstream may have acted, so the request is never forwarded again within the lease.
/// - **Client disconnects.** The upstream exchange runs in an unstructured task that does not inherit the
///   client's cancellation; its response is stored for the retry.
/// - **Leases and crashes.** A key left in flight (crash, lost response) answers `409` until its lease ends;
///   then a new request takes it over with a new owner token, and a late `complete` from the stale owner is
///   refused by the store (logged, never overwrites). Guarantee: the backend runs exactly once per key while
///   the record lives; at least once after a lease ran out without a response.
/// - **Expiry.** Completed records live for the TTL (default 24 h), then the key behaves as new. A background
///   sweep deletes expired records in small batches every ``IdempotencyConfiguration/sweepInterval``.
/// - **Size limits.** Request bodies over the server's limit get `413` before reaching the engine. A request under
///   a key is buffered whole. Its response is held whole up to ``IdempotencyConfiguration/maxStoredResponseBytes``
///   and recorded; a longer one (a backend may stream it) is streamed to its client as it arrives, never held
///   whole, and only its status and headers are stored: a retry gets them with an empty body,
///   `Idempotent-Replayed: true` and `Idempotent-Replay-Body: omitted` (no `Content-Type`/`Content-Encoding`), and
///   the backend never runs twice. The record is stored before the client gets the first byte. The keyed response
///   bodies held while they are read to be stored count against ``IdempotencyConfiguration/maxBufferedResponseBytes``
///   over all requests; a body that would go past it is handled as a longer one (and counted).
/// - **Store outage.** Any ``KeyStoreError`` while claiming → `503` with `Retry-After: 1` (`store_error`, fail
///   closed). With ``IdempotencyConfiguration/failOpen`` the request is forwarded without idempotency, marked
///   `Idempotency-Degraded: true`, logged at warning (`fail_open`). A store error while storing a response
///   leaves the key in flight; the client still gets the response, marked `Idempotency-Degraded: true`, and
///   storing is retried in the background (``UnstoredResponses``, bounded) until the lease ends.
/// - **Problems.** Every error is an RFC 9457 problem (``Problem``).
///
/// Metrics (``IdempotencyMetricNames``) bind to the `MetricsSystem` bootstrapped before the engine is created.
public final class IdempotencyEngine: HTTPHandler {
    public let configuration: IdempotencyConfiguration
    /// The most a caller that cannot take a streamed response gets collected for it (only when a backend streams
    /// although asked not to).
    static let maxCollectedResponseBytes = 256 * 1024 * 1024
    /// The Bloom filter of keys seen (a hint for the store; see ``BloomFilter``).
    public let bloomFilter: BloomFilter
    /// The in-memory cache of completed responses.
    public let hotCache: HotCache
    /// The keyed response bodies held while they are read to be stored
    /// (``IdempotencyConfiguration/maxBufferedResponseBytes``).
    public let responseBudget: BufferedBodyBudget

    private let store: any KeyStore
    private let next: any HTTPHandler
    private let wallClock: @Sendable () -> Timestamp
    private let logger: Logger
    private let recorder: ResponseRecorder
    private let scopeHasher: ScopeHasher
    private let metrics: IdempotencyMetrics
    private let inFlight = Atomic<Int>(0)
    /// Records swept since the Bloom filter was last rebuilt.
    private let deletedSinceRebuild = Atomic<Int>(0)
    private let sweeper = Mutex<Task<Void, Never>?>(nil)
    /// Responses the client got whose storing failed, retried in the background (bounded).
    private let unstored: UnstoredResponses

    /// The wall clock in milliseconds since 1970 (`CLOCK_REALTIME`).
    @Sendable public static func systemNow() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// - Parameters:
    ///   - store: where records live.
    ///   - next: the backend requests are forwarded to.
    ///   - wallClock: the time used for leases, TTLs and record times (tests inject their own).
    ///   - metricsFactory: where metrics go; `nil` uses the bootstrapped `MetricsSystem.factory`.
    public init(
        configuration: IdempotencyConfiguration,
        store: any KeyStore,
        next: any HTTPHandler,
        wallClock: @escaping @Sendable () -> Timestamp = IdempotencyEngine.systemNow,
        logger: Logger,
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.configuration = configuration
        self.unstored = UnstoredResponses(
            maxCount: configuration.unstoredQueueEntries, maxBytes: configuration.unstoredQueueBytes)
        self.responseBudget = BufferedBodyBudget(limit: configuration.maxBufferedResponseBytes)
        self.store = store
        self.next = next
        self.wallClock = wallClock
        self.logger = logger
        bloomFilter = BloomFilter(
            expectedKeys: configuration.bloomExpectedKeys, falsePositiveRate: configuration.bloomFalsePositiveRate)
        hotCache = HotCache(
            capacity: configuration.hotCacheBytes, maxAge: max(1, configuration.hotCacheMaxAge.milliseconds))
        recorder = ResponseRecorder(
            droppedResponseHeaders: configuration.droppedResponseHeaders,
            maxBodyBytes: configuration.maxStoredResponseBytes)
        scopeHasher = ScopeHasher(headers: configuration.scopeHeaders)
        metrics = IdempotencyMetrics(factory: metricsFactory ?? MetricsSystem.factory)
    }

    // MARK: - Lifecycle

    /// Rebuilds the Bloom filter from the store and starts the periodic sweep of expired records.
    public func start() async throws {
        try await rebuildBloomFilter()
        let interval = configuration.sweepInterval
        let task = Task { [self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                await sweepExpired()
            }
        }
        let previous = sweeper.withLock { sweeper in
            defer { sweeper = task }
            return sweeper
        }
        previous?.cancel()
    }

    /// Stops the sweep and waits (at most `limit`, by default the upstream timeout) for background upstream
    /// exchanges to end, so their responses are stored.
    public func shutdown(waitingAtMost limit: Duration? = nil) async {
        let task = sweeper.withLock { sweeper in
            defer { sweeper = nil }
            return sweeper
        }
        task?.cancel()
        await task?.value
        let deadline = ContinuousClock.now + (limit ?? configuration.upstreamTimeout)
        while inFlightCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if inFlightCount > 0 {
            logger.warning(
                "upstream exchanges still running at shutdown; their keys stay in flight until their leases end",
                metadata: ["count": "\(inFlightCount)"])
        }
        await unstored.stop()
    }

    /// Deletes expired records in batches of ``IdempotencyConfiguration/sweepBatch``, yielding between batches,
    /// and rebuilds the Bloom filter once the records deleted since its last rebuild reach a tenth of
    /// ``IdempotencyConfiguration/bloomExpectedKeys``: a rebuild reads every key in the store (about a second per
    /// million), while a deleted key left in the filter only costs a store lookup when it comes back (a false
    /// positive). Returns how many records were deleted.
    @discardableResult
    public func sweepExpired() async -> Int {
        var total = 0
        let batch = max(1, configuration.sweepBatch)
        while !Task.isCancelled {
            let deleted: Int
            do {
                deleted = try await timed(.deleteExpired) { () async throws(KeyStoreError) -> Int in
                    try await store.deleteExpired(now: wallClock(), limit: batch)
                }
            } catch {
                logger.warning("idempotency sweep failed", metadata: ["error": "\(error)"])
                break
            }
            total += deleted
            if deleted < batch { break }
            await Task.yield()
        }
        if total > 0 {
            metrics.swept.increment(by: Int64(total))
            logger.debug("idempotency sweep deleted expired records", metadata: ["count": "\(total)"])
            let stale = deletedSinceRebuild.wrappingAdd(total, ordering: .relaxed).newValue
            guard stale >= max(1, configuration.bloomExpectedKeys / 10) else { return total }
            deletedSinceRebuild.store(0, ordering: .relaxed)
            do { try await rebuildBloomFilter() } catch {
                logger.warning("Bloom filter rebuild failed", metadata: ["error": "\(error)"])
            }
        }
        return total
    }

    /// Refills the Bloom filter with every key in the store.
    public func rebuildBloomFilter() async throws {
        let store = self.store
        try await timed(.forEachKey) { () async throws(KeyStoreError) in
            do {
                try await bloomFilter.rebuild { body in try await store.forEachKey(body) }
            } catch let error as KeyStoreError {
                throw error
            } catch {
                throw KeyStoreError.corrupt("\(error)")
            }
        }
    }

    // MARK: - Admin

    /// Deletes the record for `key` from the store and the hot cache (admin). The Bloom filter keeps the key
    /// (it only ever errs towards "maybe"). Returns whether a record existed.
    public func deleteKey(_ key: RecordKey) async throws -> Bool {
        hotCache.invalidate(key)
        let existed = try await timed(.delete) { () async throws(KeyStoreError) -> Bool in
            try await store.delete(key)
        }
        hotCache.invalidate(key)
        return existed
    }

    /// The stored record for `key`, whatever its state.
    public func record(for key: RecordKey) async throws -> IdempotencyRecord? {
        try await timed(.record) { () async throws(KeyStoreError) -> IdempotencyRecord? in
            try await store.record(for: key)
        }
    }

    /// The scope a request with these header fields belongs to (for admin look-ups by credential).
    public func scope(of fields: HTTPFields) -> String {
        scopeHasher.scope(of: fields)
    }

    /// Requests whose upstream exchange is running under a claimed key.
    public var inFlightCount: Int { inFlight.load(ordering: .relaxed) }

    /// Bloom lookups that said "certainly absent".
    public var bloomNegatives: Int { bloomFilter.negativeCount }
    /// Bloom lookups that said "maybe" for a key the store had.
    public var bloomPositives: Int { bloomFilter.positiveCount }
    /// Bloom lookups that said "maybe" for a key the store did not have.
    public var bloomFalsePositives: Int { bloomFilter.falsePositiveCount }

    // MARK: - Requests

    public func handle(_ request: consuming GatewayRequest) async throws -> GatewayResponse {
        await process(consume request).0
    }

    /// True exactly for requests forwarded without idempotency (`passthrough`) when the backend takes streamed
    /// bodies: nothing here needs their body. A request under a key is buffered, since its body is fingerprinted
    /// before the key is claimed.
    public func acceptsStreamedBody(for head: HTTPRequest) -> Bool {
        guard case .passthrough = admission(of: head) else { return false }
        return next.acceptsStreamedBody(for: head)
    }

    /// Handles one request and reports what was done with it.
    public func process(_ request: consuming GatewayRequest) async -> (GatewayResponse, IdempotencyOutcome) {
        let result = await decide(consume request)
        metrics.requests[result.1]?.increment()
        return result
    }

    /// What a request's head says about its handling, before anything else is looked at.
    private enum Admission {
        /// Not covered (method not covered on its route, or no key where the key is optional): forwarded as is.
        case passthrough
        case missingKey
        case invalidKey(String)
        case covered(IdempotencyKey, IdempotencyConfiguration.ResolvedRoute)
    }

    /// Whether a request is forwarded without idempotency (as ``process(_:)`` would forward it), decided from its
    /// method, its path (with the query, as ``admission(of:)`` reads it) and whether it has an `Idempotency-Key`
    /// field. For a byte path that forwards such requests itself (and then calls ``countPassthrough()``).
    public func forwardsWithoutIdempotency(method: HTTPRequest.Method, path: String, hasKey: Bool) -> Bool {
        if configuration.routes.isEmpty {
            // No routes (the usual case): the global settings, without resolving a route for every request.
            guard Self.covers(configuration.methods, method) else { return true }
            return !hasKey && !configuration.requireKey
        }
        let route = configuration.route(for: path)
        guard Self.covers(route.methods, method) else { return true }
        return !hasKey && !route.requireKey
    }

    /// `methods.contains(method)`, comparing instead of hashing when the set is small (it usually holds two).
    @inline(__always)
    private static func covers(_ methods: Set<HTTPRequest.Method>, _ method: HTTPRequest.Method) -> Bool {
        methods.count <= 4 ? methods.contains { $0 == method } : methods.contains(method)
    }

    /// Counts a request forwarded without idempotency by a byte path, as ``process(_:)`` counts its own.
    public func countPassthrough() {
        metrics.passthroughRequests.increment()
    }

    /// The answer to a request forwarded without idempotency whose exchange with the upstream failed: a problem,
    /// as ``process(_:)`` answers it.
    public func passthroughFailure(_ error: UpstreamError) -> GatewayResponse {
        switch error {
        case .unreachable: problem(.upstreamUnreachable, "The upstream could not be reached.")
        case .timeout: upstreamTimeoutProblem()
        case .failed: problem(.upstreamUnreachable, "The exchange with the upstream failed.")
        }
    }

    private func admission(of head: HTTPRequest) -> Admission {
        let route = configuration.route(for: head.path ?? "/")
        guard route.methods.contains(head.method) else { return .passthrough }
        do {
            guard let key = try IdempotencyKey.parse(head.headerFields, maxLength: configuration.maxKeyLength) else {
                return route.requireKey ? .missingKey : .passthrough
            }
            return .covered(key, route)
        } catch {
            return .invalidKey(error.description)
        }
    }

    private func decide(_ request: consuming GatewayRequest) async -> (GatewayResponse, IdempotencyOutcome) {
        let path = request.head.path ?? "/"
        let key: IdempotencyKey
        let route: IdempotencyConfiguration.ResolvedRoute
        switch admission(of: request.head) {
        case .passthrough:
            // Streams (request and response body) go through untouched.
            return (await forwardWithoutIdempotency(request), .passthrough)
        case .missingKey:
            let detail =
                "This operation is idempotent and it requires correct usage of Idempotency Key. "
                + "Send an Idempotency-Key header with a unique value, e.g. "
                + #"Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"."#
            return (problem(.missingKey, detail), .missingKey)
        case .invalidKey(let reason):
            return (problem(.invalidKey, reason), .invalidKey)
        case .covered(let parsed, let matched):
            key = parsed
            route = matched
        }
        if let stream = request.bodyStream {
            // Only a caller that ignored acceptsStreamedBody(for:) gets here: the fingerprint needs the whole body.
            do {
                request.body = try await stream.collect()
                request.bodyStream = nil
            } catch {
                // Nothing was claimed nor forwarded.
                return (ProblemDetails.response(status: 400, detail: "The request body could not be read."), .passthrough)
            }
        }

        let recordKey = RecordKey(scope: scopeHasher.scope(of: request.head.headerFields), key: key.value)
        let input = FingerprintInput(request, headers: configuration.fingerprintHeaders)
        let now = wallClock()

        if let held = hotCache.held(for: recordKey, now: now) {
            metrics.hotCacheHits.increment()
            if held.claimRefresh(now: now) { revalidate(held, for: recordKey) }
            let same = held.entry.fingerprintInput.map(input.matches) ?? (held.entry.fingerprint == input.digest())
            guard same else { return (mismatch(key), .mismatch) }
            return (held.entry.replay, .replayed)
        }
        let fingerprint = input.digest()

        if inFlightCount >= configuration.maxInFlight {
            // Nothing new is claimed at the limit, but a key the store holds (completed, or in flight within its
            // lease) is answered as usual: a duplicate of one in flight gets its 409, a completed one its replay,
            // another request's a 422. A key the Bloom filter has never seen costs no read.
            let cacheGeneration = hotCache.generation  // before the read, as HotCache.insert expects
            var known: IdempotencyRecord?
            if bloomFilter.contains(recordKey) {
                do {
                    known = try await timed(.record) { () async throws(KeyStoreError) -> IdempotencyRecord? in
                        try await store.record(for: recordKey)
                    }
                } catch {
                    // A store error is answered as one (fail closed). Failing open would forward, which the limit
                    // does not allow: then the overload answer below.
                    if !configuration.failOpen { return await storeUnavailable(request, key: recordKey, error: error) }
                }
            }
            if let record = known, record.expiresAt > now, record.state == .completed || record.leaseExpiresAt > now {
                return await answer(
                    known: record, request, key: key, recordKey: recordKey, fingerprint: fingerprint, input: input,
                    cacheGeneration: cacheGeneration, now: now)
            }
            // Before the claim: nothing is recorded, the client may retry with the same key.
            var extra = HTTPFields()
            extra[.retryAfter] = "1"
            logger.warning("too many upstream exchanges in flight; answering 503", metadata: ["key": recordKey.logged])
            return (
                problem(
                    .tooManyInFlight,
                    "Too many requests are being processed; this one was not forwarded. "
                        + "Retry with the same Idempotency-Key.",
                    extraFields: extra),
                .overloaded)
        }
        let maybeSeen = bloomFilter.contains(recordKey)
        // Into the filter before the claim, so that a duplicate arriving while the claim commits is never told
        // "certainly absent" (a key that ends up unstored only costs a later false positive).
        if !maybeSeen { bloomFilter.insert(recordKey) }
        let ttlMilliseconds = max(1, route.ttl.milliseconds)
        let leaseMilliseconds = max(1, route.lease.milliseconds)
        let claim = Claim(
            key: recordKey, fingerprint: fingerprint, owner: OwnerToken.random(), now: now,
            leaseExpiresAt: now + leaseMilliseconds, expiresAt: now + max(ttlMilliseconds, leaseMilliseconds),
            method: request.head.method.rawValue, path: path)
        let cacheGeneration = hotCache.generation
        let outcome: ClaimOutcome
        do {
            outcome = try await timed(.claim) { () async throws(KeyStoreError) -> ClaimOutcome in
                try await store.claim(claim, likelyNew: !maybeSeen)
            }
        } catch {
            return await storeUnavailable(request, key: recordKey, error: error)
        }

        switch outcome {
        case .completed(let record), .inFlight(let record):
            countBloom(maybeSeen ? .positive : .negative)
            return await answer(
                known: record, request, key: key, recordKey: recordKey, fingerprint: fingerprint, input: input,
                cacheGeneration: cacheGeneration, now: now)

        case .claimed(let tookOver):
            countBloom(maybeSeen ? (tookOver ? .positive : .falsePositive) : .negative)
            if tookOver {
                logger.notice(
                    "idempotency lease expired without a response; forwarding again (at-least-once)",
                    metadata: ["key": recordKey.logged])
            }
            let claimed = ClaimedKey(
                recordKey: recordKey, owner: claim.owner, fingerprint: fingerprint,
                fingerprintInput: hotCache.capacity > 0 ? input.kept : nil,  // only the hot cache keeps it
                ttlMilliseconds: ttlMilliseconds, leaseExpiresAt: claim.leaseExpiresAt)
            return await forward(request, claimed, lease: route.lease)
        }
    }

    /// The answer to a request whose key the store holds (completed, or in flight within its lease): `422` for
    /// another request under it; otherwise the replay of a completed record (kept in the hot cache), or `409` while
    /// the first request runs.
    private func answer(
        known record: IdempotencyRecord, _ request: GatewayRequest, key: IdempotencyKey, recordKey: RecordKey,
        fingerprint: [UInt8], input: FingerprintInput, cacheGeneration: UInt64, now: Timestamp
    ) async -> (GatewayResponse, IdempotencyOutcome) {
        guard record.fingerprint == fingerprint else { return (mismatch(key), .mismatch) }
        switch record.state {
        case .completed:
            guard let stored = record.response else {
                return await storeUnavailable(
                    request, key: recordKey, error: .corrupt("completed record without a response"))
            }
            let replay = recorder.replay(stored)
            hotCache.insert(
                HotCache.Entry(
                    fingerprint: fingerprint, expiresAt: record.expiresAt, replay: replay, fingerprintInput: input.kept),
                for: recordKey,
                ifGeneration: cacheGeneration, now: now)
            return (replay, .replayed)
        case .inFlight:
            // Retry-After (RFC 9110 §10.2.3): the lease's remaining whole seconds, rounded up, at least 1.
            let remaining = max(0, record.leaseExpiresAt - now)
            let seconds = max(1, (remaining + 999) / 1000)
            var extra = HTTPFields()
            extra[.retryAfter] = String(seconds)
            let detail = "Your request with idempotency key '\(key.value)' is currently being processed."
            return (problem(.keyInFlight, detail, extraFields: extra), .conflict)
        }
    }

    /// A key this engine claimed, and what storing its response needs.
    private struct ClaimedKey: Sendable {
        var recordKey: RecordKey
        var owner: OwnerToken
        var fingerprint: [UInt8]
        /// Kept in the hot cache beside the response (nil when there is no hot cache).
        var fingerprintInput: [UInt8]?
        var ttlMilliseconds: Int64
        var leaseExpiresAt: Timestamp
    }

    /// Forwards a claimed request in an unstructured task (so neither the client's cancellation nor its timeout
    /// aborts the exchange) and waits for the result at most the upstream timeout.
    private func forward(
        _ request: GatewayRequest, _ claimed: ClaimedKey, lease: Duration
    ) async -> (GatewayResponse, IdempotencyOutcome) {
        let recordKey = claimed.recordKey
        var upstreamRequest = request
        upstreamRequest.upstreamDeadline = ContinuousClock.now + lease
        // The response may come as a stream; ``exchange`` holds it whole only up to the storable size.
        upstreamRequest.allowsStreamedResponse = request.allowsStreamedResponse
        let waiter = UpstreamWaiter<(GatewayResponse, IdempotencyOutcome)>()
        changeInFlight(by: 1)
        // On the connection's event loop when there is one: the upstream socket's events then resume this task
        // on the thread that saw them.
        Task(executorPreference: request.executor) { [self] in
            let result = await exchange(upstreamRequest, claimed, headArrived: { waiter.stopTimeout() })
            // Not in flight any more by the time anyone sees the result.
            changeInFlight(by: -1)
            // The client got its 504 or went away: a streamed body no one will read releases its upstream connection.
            if !waiter.fulfil(result) { result.0.bodyStream?.cancel() }
        }
        if let result = await waiter.wait(timeout: configuration.upstreamTimeout) { return result }
        if Task.isCancelled {
            logger.debug(
                "client went away; the upstream exchange continues and its response will be stored",
                metadata: ["key": recordKey.logged])
        } else {
            logger.info(
                "upstream did not answer within the upstream timeout; still waiting in the background",
                metadata: ["key": recordKey.logged])
        }
        return (upstreamTimeoutProblem(), .forwarded)
    }

    /// The upstream exchange of a claimed key and the bookkeeping of its result.
    /// - Parameter headArrived: called when a streamed response's head has arrived and its body is read up to the
    ///   storable size before the client gets anything: the client's wait is no longer bounded by the upstream
    ///   timeout (each read still is), as it is not for a response streamed without a key.
    private func exchange(
        _ request: GatewayRequest, _ claimed: ClaimedKey, headArrived: @Sendable () -> Void
    ) async -> (GatewayResponse, IdempotencyOutcome) {
        let recordKey = claimed.recordKey
        let owner = claimed.owner
        var response: GatewayResponse
        // The body is over the storable size: the response goes on as a stream, recorded without its body.
        var bodyTooLarge = false
        // Set once such a response's record is stored: only then does a body that breaks off later leave a record
        // whose retries get its status and headers.
        let recorded = OnceFlag()
        do {
            do {
                response = try await next.handle(request)
            } catch let error as UpstreamError {
                throw error
            } catch let error as any HTTPResponseError {
                // A handler's own error status (HTTPHandler's contract): its response, handled like a returned one.
                response = error.response
            } catch {
                // Any other error of an in-process handler is a 500 (HTTPHandler's contract), handled like a
                // returned 500: the key is released unless 5xx responses are stored.
                logger.warning("backend failed", metadata: ["key": recordKey.logged, "error": "\(error)"])
                response = ProblemDetails.response(status: 500, detail: "The backend failed to handle the request.")
            }
            if let stream = response.bodyStream {
                headArrived()
                let start = try await Self.readStart(
                    of: stream, upTo: configuration.maxStoredResponseBytes, budget: responseBudget,
                    until: request.upstreamDeadline ?? .now + configuration.upstreamTimeout)
                if start.overBudget { noteOverBudget(recordKey) }
                if let whole = start.whole {
                    response.body = whole
                    response.bodyStream = nil
                    // Given back when the last copy of the response is gone (written to the client, and stored).
                    response.bodyReservation = start.reservation
                } else if request.allowsStreamedResponse {
                    let key = recordKey.logged
                    // The start's share is given back once it is handed to the client, not at the end of a long
                    // transfer.
                    response.bodyStream = PrefixedBodyStream(
                        prefix: start.read, rest: stream, reservation: start.reservation
                    ) { [logger, metrics] error in
                        // The record (status and headers) is stored; the client sees an incomplete message.
                        guard recorded.isSet else { return }
                        metrics.bodyBroken.increment()
                        logger.warning(
                            "response body broke off after its record was stored; retries get its status and headers",
                            metadata: ["key": key, "error": "\(error)"])
                    }
                    bodyTooLarge = true
                } else {
                    // A caller that cannot take a stream gets the whole body (a backend streamed although asked not
                    // to); it is still too large to store.
                    response.body = start.read + (try await stream.collect(limit: Self.maxCollectedResponseBytes))
                    response.bodyStream = nil
                    response.bodyReservation = start.reservation
                    bodyTooLarge = true
                }
            }
        } catch UpstreamError.unreachable(let reason) {
            // Nothing was sent: no side effect was possible, the key can be released.
            logger.warning(
                "upstream unreachable; key released", metadata: ["key": recordKey.logged, "reason": "\(reason)"])
            await release(recordKey, owner: owner)
            return (
                problem(
                    .upstreamUnreachable,
                    "The upstream could not be reached and the request was not sent. "
                        + "Retry with the same Idempotency-Key."),
                .released
            )
        } catch UpstreamError.timeout {
            // Ambiguous: the request was sent. Keep the key in flight until its lease ends.
            logger.warning(
                "upstream timed out; key stays in flight until its lease ends", metadata: ["key": recordKey.logged])
            return (upstreamTimeoutProblem(), .forwarded)
        } catch {
            // `UpstreamError.failed`, or a response body that broke off: the upstream acted (or may have); never
            // forward again within the lease.
            logger.warning(
                "upstream exchange failed; key stays in flight until its lease ends",
                metadata: ["key": recordKey.logged, "error": "\(error)"])
            return (
                problem(
                    .upstreamUnreachable,
                    "The exchange with the upstream failed after the request was sent, so it may have been processed. "
                        + "Retries with the same Idempotency-Key get 409 until the key's lease ends."),
                .forwarded
            )
        }

        if response.head.status.code >= 500, !configuration.store5xx {
            await release(recordKey, owner: owner)
            return (response, .released)
        }

        let (stored, omitted) = recorder.storable(
            response, bodyTooLarge: bodyTooLarge, toHEAD: request.head.method == .head)
        if omitted {
            metrics.bodyOmitted.increment()
            let bytes = response.bodyStream.map { $0.length.map(String.init) ?? "unknown" } ?? "\(response.body.count)"
            logger.info(
                "response body too large to store; storing status and headers only",
                metadata: ["key": recordKey.logged, "bytes": "\(bytes)"])
        }
        do {
            if try await storeResponse(stored, for: claimed) { recorded.set() }
        } catch {
            // The upstream has acted and its answer is here: the client gets it (a client told to retry would be
            // sent to the upstream again once the lease ends). The key stays in flight, and storing goes on in the
            // background until the lease ends, so a retry gets 409 and then, once stored, the replay.
            metrics.unstoredResponses.increment()
            logger.error(
                """
                could not store the response; the client gets it, marked Idempotency-Degraded, and storing is \
                retried until the key's lease ends
                """,
                metadata: ["key": recordKey.logged, "error": "\(error)"])
            response.head.headerFields[IdempotencyHeaders.idempotencyDegraded] = "true"
            keepStoring(stored, for: claimed)
        }
        return (response, .forwarded)
    }

    /// Counts a keyed response whose body did not fit ``responseBudget`` (it is stored without its body), and logs
    /// it at most once per 10 seconds.
    private func noteOverBudget(_ key: RecordKey) {
        metrics.responseBudgetRefusals.increment()
        if responseBudget.countRefusal() {
            logger.warning(
                """
                keyed response bodies held in memory reached idempotency.max-buffered-response-bytes; this response \
                is streamed to its client and stored without its body (logged at most every 10 s)
                """,
                metadata: [
                    "key": key.logged, "limit": "\(responseBudget.limit)", "refusals": "\(responseBudget.refusals)",
                ])
        }
    }

    /// Stores a claimed key's response and puts it in the hot cache. Returns false, storing nothing, when the key was
    /// taken over or deleted meanwhile. Throws the store's error.
    @discardableResult
    private func storeResponse(_ stored: StoredResponse, for claimed: ClaimedKey) async throws(KeyStoreError) -> Bool {
        let recordKey = claimed.recordKey
        let expiresAt = wallClock() + claimed.ttlMilliseconds
        let cacheGeneration = hotCache.generation
        let stillOwner = try await timed(.complete) { () async throws(KeyStoreError) -> Bool in
            try await store.complete(recordKey, owner: claimed.owner, response: stored, expiresAt: expiresAt)
        }
        guard stillOwner else {
            metrics.staleOwner.increment()
            logger.warning(
                "response arrived after the key's lease was taken over; not stored",
                metadata: ["key": recordKey.logged])
            return false
        }
        if hotCache.capacity > 0 {
            let entry = HotCache.Entry(
                fingerprint: claimed.fingerprint, expiresAt: expiresAt, replay: recorder.replay(stored),
                fingerprintInput: claimed.fingerprintInput)
            hotCache.insert(entry, for: recordKey, ifGeneration: cacheGeneration, now: wallClock())
        }
        return true
    }

    /// Queues a response whose first storing failed for ``UnstoredResponses`` to retry until the key's lease ends.
    private func keepStoring(_ stored: StoredResponse, for claimed: ClaimedKey) {
        let key = claimed.recordKey.logged
        let remaining = Duration.milliseconds(max(0, claimed.leaseExpiresAt - wallClock()))
        unstored.add(
            bytes: stored.body.count + 256, until: ContinuousClock.now + remaining,
            attempt: { [self] in
                do throws(KeyStoreError) {
                    let wasStored = try await storeResponse(stored, for: claimed)
                    if wasStored { logger.notice("response stored after the store recovered", metadata: ["key": key]) }
                    return .done
                } catch {
                    return Self.isTransient(error) ? .retryLater : .giveUp
                }
            },
            dropped: { [logger] reason in
                logger.error(
                    "a response the client got was not stored; a retry after the key's lease will be forwarded again",
                    metadata: ["key": key, "reason": "\(reason)"])
            })
    }

    /// Whether a store error may clear by itself (disk full, busy, I/O) rather than concern the record or a closed
    /// store (SQLite primary codes 18 TOOBIG, 19 CONSTRAINT, 20 MISMATCH, 25 RANGE, sqlite.org/rescode.html).
    private static func isTransient(_ error: KeyStoreError) -> Bool {
        guard case .database(let code, _) = error else { return false }
        return ![18, 19, 20, 25].contains(code & 0xFF)
    }

    /// Checks a hot-cache entry against the store in the background (a read): renewed while the store still has the
    /// same completed record, invalidated when it is gone or changed (deleted by another process), renewed on a store
    /// error (checked again later).
    private func revalidate(_ held: HotCache.Held, for key: RecordKey) {
        Task { [self] in
            let record: IdempotencyRecord?
            do {
                record = try await timed(.record) { () async throws(KeyStoreError) -> IdempotencyRecord? in
                    try await store.record(for: key)
                }
            } catch {
                hotCache.renew(held, now: wallClock())
                return
            }
            if let record, record.state == .completed, record.fingerprint == held.entry.fingerprint,
                record.expiresAt == held.entry.expiresAt
            {
                hotCache.renew(held, now: wallClock())
            } else {
                hotCache.invalidate(key)
            }
        }
    }

    /// Releases a claim (logging, never throwing).
    private func release(_ key: RecordKey, owner: OwnerToken) async {
        do {
            let released = try await timed(.release) { () async throws(KeyStoreError) -> Bool in
                try await store.release(key, owner: owner)
            }
            if !released {
                metrics.staleOwner.increment()
                logger.warning("could not release the key: another request took it over", metadata: ["key": key.logged])
            }
        } catch {
            logger.error(
                "could not release the key; it stays in flight until its lease ends",
                metadata: ["key": key.logged, "error": "\(error)"])
        }
    }

    /// Fail closed (`503`, `Retry-After: 1`) or, when configured, fail open.
    private func storeUnavailable(
        _ request: GatewayRequest, key: RecordKey, error: KeyStoreError
    ) async -> (GatewayResponse, IdempotencyOutcome) {
        if configuration.failOpen {
            logger.warning(
                "idempotency store failed; forwarding without idempotency (fail-open)",
                metadata: ["key": key.logged, "error": "\(error)"])
            var response = await forwardWithoutIdempotency(request)
            response.head.headerFields[IdempotencyHeaders.idempotencyDegraded] = "true"
            return (response, .failOpen)
        }
        logger.error("idempotency store failed; answering 503", metadata: ["key": key.logged, "error": "\(error)"])
        var extra = HTTPFields()
        extra[.retryAfter] = "1"
        let detail =
            "The idempotency store is unavailable, so the request was not forwarded. "
            + "Retry with the same Idempotency-Key."
        return (problem(.storeUnavailable, detail, extraFields: extra), .storeError)
    }

    /// Forwards a request that is not under idempotency control; upstream errors become problems.
    private func forwardWithoutIdempotency(_ request: consuming GatewayRequest) async -> GatewayResponse {
        do {
            return try await next.handle(consume request)
        } catch let error as UpstreamError {
            return passthroughFailure(error)
        } catch let error as any HTTPResponseError {
            return error.response
        } catch {
            logger.warning("backend failed", metadata: ["error": "\(error)"])
            return ProblemDetails.response(status: 500, detail: "The backend failed to handle the request.")
        }
    }

    // MARK: - Helpers

    private func mismatch(_ key: IdempotencyKey) -> GatewayResponse {
        problem(
            .keyMismatch,
            "The idempotency key '\(key.value)' was already used with a different request "
                + "(method, path, body or headers differ). An Idempotency-Key MUST NOT be reused across different "
                + "payloads.")
    }

    private func upstreamTimeoutProblem() -> GatewayResponse {
        problem(
            .upstreamTimeout,
            "The upstream did not answer in time. The request may still complete: retry with the same "
                + "Idempotency-Key to get its result.")
    }

    private func problem(_ kind: Problem.Kind, _ detail: String, extraFields: HTTPFields = [:]) -> GatewayResponse {
        Problem(kind, detail: detail).response(
            documentationBaseURL: configuration.documentationBaseURL, extraFields: extraFields)
    }

    private func countBloom(_ result: BloomResult) {
        bloomFilter.count(result)
        metrics.bloom[result]?.increment()
    }

    private func changeInFlight(by delta: Int) {
        let value = inFlight.wrappingAdd(delta, ordering: .relaxed).newValue
        metrics.inFlight.record(value)
    }

    /// Runs a store call, timing it and counting its errors.
    private func timed<T>(
        _ operation: StoreOperation, _ body: () async throws(KeyStoreError) -> T
    ) async throws(KeyStoreError) -> T {
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            let (seconds, attoseconds) = elapsed.components
            metrics.storeDuration[operation]?.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        do {
            return try await body()
        } catch {
            metrics.storeErrors[operation]?.increment()
            throw error
        }
    }
}
