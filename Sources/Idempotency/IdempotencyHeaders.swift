import HTTPTypes

/// The header field names the idempotency layer reads or writes.
///
/// Kept in a namespace (rather than an `HTTPField.Name` extension) so they cannot collide with names other
/// modules declare.
public enum IdempotencyHeaders: Sendable {
    /// `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header-07 §2). Forwarded to the backend unchanged.
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `Idempotent-Replayed: true` marks a replayed response (Stripe's name; the draft defines none, issue #46).
    public static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
    /// `Idempotent-Replay-Body: omitted` marks a replay whose body was too large to store.
    public static let idempotentReplayBody = HTTPField.Name("Idempotent-Replay-Body")!
    /// `Idempotency-Degraded: true` marks a response forwarded without idempotency because the store failed
    /// and fail-open is configured.
    public static let idempotencyDegraded = HTTPField.Name("Idempotency-Degraded")!
}
