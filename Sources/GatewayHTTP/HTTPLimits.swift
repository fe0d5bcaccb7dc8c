/// Size limits the decoders enforce while bytes arrive, so that no input is buffered without bound.
///
/// Each limit is checked incrementally: a decoder fails as soon as a limit is exceeded, not when the
/// offending part is complete.
public struct HTTPLimits: Sendable, Equatable {
    /// Longest accepted request target (RFC 9112 §3.3). Longer → `414 URI Too Long`.
    public var maxRequestTargetLength: Int
    /// Largest header section in bytes, request or status line excluded. Larger → `431`.
    public var maxHeaderSectionSize: Int
    /// Most field lines in a header or trailer section. More → `431`.
    public var maxHeaderCount: Int
    /// Largest request body: a larger `Content-Length`, or a chunked body that decodes to more → `413`.
    public var maxBodySize: Int
    /// Longest chunk-size line, chunk extensions included (RFC 9112 §7.1.1). Longer → `400`.
    public var maxChunkLineLength: Int

    public init(
        maxRequestTargetLength: Int = 8 * 1024,
        maxHeaderSectionSize: Int = 64 * 1024,
        maxHeaderCount: Int = 100,
        maxBodySize: Int = 8 * 1024 * 1024,
        maxChunkLineLength: Int = 4 * 1024
    ) {
        self.maxRequestTargetLength = maxRequestTargetLength
        self.maxHeaderSectionSize = maxHeaderSectionSize
        self.maxHeaderCount = maxHeaderCount
        self.maxBodySize = maxBodySize
        self.maxChunkLineLength = maxChunkLineLength
    }
}

/// Why a message could not be decoded, and the status the server should answer with.
///
/// Requests fail with 400, 413, 414, 417, 431, 501 or 505; responses always fail with 502 (the gateway
/// answers its own client with `502 Bad Gateway` when the upstream sends something invalid).
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status code to answer with.
    public var status: Int
    /// A short human explanation, e.g. "Content-Length and Transfer-Encoding together".
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status): \(reason)" }
}

/// How the body of a message is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
    /// No body at all.
    case none
    /// Exactly this many bytes follow the head (RFC 9112 §6.2).
    case contentLength(Int)
    /// The chunked transfer coding (RFC 9112 §7.1).
    case chunked
    /// The body ends when the peer closes the connection (responses only, RFC 9112 §6.3 rule 8).
    case untilClose
}
