/// What the idempotency layer did with one request (the `outcome` dimension of `idempotency_requests_total`).
public enum IdempotencyOutcome: String, Sendable, CaseIterable {
    /// A new key was claimed and the request forwarded. Its response was stored (or, for `504`/broken
    /// exchanges, the key stays in flight until its lease ends).
    case forwarded
    /// A stored response was replayed with `Idempotent-Replayed: true`.
    case replayed
    /// `409`: the key is held by a request still in flight.
    case conflict
    /// `422`: the key was used with a different request fingerprint.
    case mismatch
    /// `400`: the route requires a key and none was sent.
    case missingKey = "missing_key"
    /// `400`: the key was malformed.
    case invalidKey = "invalid_key"
    /// The key was released after a backend `5xx` (unless `store5xx`) or an unreachable upstream (`502`), so the
    /// client may retry.
    case released
    /// `503`: the key store failed and the gateway failed closed.
    case storeError = "store_error"
    /// `503`: ``IdempotencyConfiguration/maxInFlight`` upstream exchanges were running; nothing was claimed.
    case overloaded
    /// Forwarded without idempotency: a method or route not covered, or no key where keys are optional.
    case passthrough
    /// Forwarded without idempotency because the store failed and fail-open is configured.
    case failOpen = "fail_open"
}
