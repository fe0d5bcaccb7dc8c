import HTTPTypes

/// What the server knows about the connection a request arrived on.
public struct ConnectionInfo: Sendable, Hashable {
    /// The peer's address without port, e.g. `127.0.0.1` or `::1` (used for `X-Forwarded-For`).
    public var remoteAddress: String
    /// `http` or `https` as seen by the client (used for `X-Forwarded-Proto`).
    public var scheme: String
    /// The HTTP version of the request line.
    public var version: HTTPVersion

    public init(remoteAddress: String = "127.0.0.1", scheme: String = "http", version: HTTPVersion = .http1_1) {
        self.remoteAddress = remoteAddress
        self.scheme = scheme
        self.version = version
    }
}

/// A request as the server hands it to a handler: the head in swift-http-types form and the body.
///
/// `head.authority` holds the `Host` header (RFC 9112 §3.2); `head.path` holds the request target in origin form
/// (for an absolute-form target, `scheme` and `authority` come from the target).
///
/// The body is either buffered in ``body`` (the usual case) or, for a large or chunked body that the handler
/// accepted streamed (``HTTPHandler/acceptsStreamedBody(for:)``), readable from ``bodyStream`` while ``body`` is
/// empty.
public struct GatewayRequest: Sendable {
    public var head: HTTPRequest
    /// The whole body, unless it is streamed (then empty).
    public var body: [UInt8]
    /// The body still arriving from the client, read piece by piece; nil when the body is in ``body``. Only a
    /// handler that said yes to ``HTTPHandler/acceptsStreamedBody(for:)`` for this head gets one.
    public var bodyStream: (any HTTPBodyStream)?
    /// Whether the caller can write a response whose body is a ``GatewayResponse/bodyStream`` (default false).
    /// The server sets it on every request it hands out; a handler that needs the whole response of the handler
    /// it calls (the idempotency engine, to record it) clears it, and a backend must then buffer the body.
    public var allowsStreamedResponse: Bool
    public var connection: ConnectionInfo
    /// When set, a backend waits for the upstream's response until this instant instead of its own response
    /// timeout. The idempotency engine sets it to the end of the key's lease, so a slow upstream's answer can
    /// still be stored after the client got its 504.
    public var upstreamDeadline: ContinuousClock.Instant?
    /// The executor the request's connection runs on (the server's event loop). Work spawned for this request,
    /// such as the idempotency engine's background upstream exchange, should prefer it: socket events then
    /// resume that work without a thread hop.
    public var executor: (any TaskExecutor)?
    /// The request id the gateway's outermost handler gave the request, put in its `X-Request-Id` field only when it
    /// is forwarded (a replay never is, and then nothing edits its fields).
    package var requestID: String?
    /// The share of the server's ``BufferedBodyBudget`` that ``body`` holds, given back when the last copy of this
    /// request is gone (so a body kept by an upstream exchange that outlives its client still counts).
    package var bodyReservation: BufferedBodyBudget.Reservation?

    public init(
        head: HTTPRequest, body: [UInt8] = [], connection: ConnectionInfo = ConnectionInfo(),
        upstreamDeadline: ContinuousClock.Instant? = nil, executor: (any TaskExecutor)? = nil,
        bodyStream: (any HTTPBodyStream)? = nil, allowsStreamedResponse: Bool = false
    ) {
        self.head = head
        self.body = body
        self.bodyStream = bodyStream
        self.allowsStreamedResponse = allowsStreamedResponse
        self.connection = connection
        self.upstreamDeadline = upstreamDeadline
        self.executor = executor
    }
}

/// A response: status, header fields and body. Framing headers (`Content-Length`, `Transfer-Encoding`) are
/// recomputed by the server when it writes the response.
///
/// The body is either buffered in ``body`` or, when ``bodyStream`` is set (only in answer to a request that
/// ``GatewayRequest/allowsStreamedResponse``), read from the stream as it is written: with `Content-Length` when
/// the stream knows its length, else chunked to an HTTP/1.1 client and close-delimited to an HTTP/1.0 one.
public struct GatewayResponse: Sendable {
    public var head: HTTPResponse {
        didSet {  // no longer what `head` says
            encodedHead = nil
            encodedHeadHasDate = false
        }
    }
    /// `head`'s status line (after the version) and fields, already encoded
    /// (``HTTPEncoder/encodeStatusAndFields(_:)``): the server writes these bytes instead of encoding `head` again.
    /// Set for replays, whose head is the same on every send; any change to `head` clears it.
    package var encodedHead: [UInt8]?
    /// Whether ``encodedHead`` holds a `Date` field that `head` does not show (a byte-path response): the server then
    /// adds none.
    package var encodedHeadHasDate = false
    /// Fields the server writes after ``head``'s: for the gateway's outermost handler to add its own
    /// (`X-Request-Id`, and the server's `Date`) to a response whose fields are shared, as a replay's are with the
    /// hot cache, without copying them all. A name here is not also in `head.headerFields`. Not recorded for
    /// replay, and not part of the public API: a handler outside the package edits `head`.
    package var appendedFields = HTTPFields()
    /// The whole body, unless it is streamed (then empty).
    public var body: [UInt8]
    /// The body read piece by piece while it is written to the client; nil when the body is in ``body``.
    public var bodyStream: (any HTTPBodyStream)?
    /// The share of a ``BufferedBodyBudget`` that ``body`` (or the buffered start of ``bodyStream``) holds, given
    /// back when the last copy of this response is gone: the idempotency engine's budget for the keyed response
    /// bodies it holds while it stores them.
    package var bodyReservation: BufferedBodyBudget.Reservation?

    public init(head: HTTPResponse, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        self.head = HTTPResponse(status: status, headerFields: headerFields)
        self.body = body
    }

    /// A response whose body is streamed (``body`` stays empty).
    public init(head: HTTPResponse, bodyStream: any HTTPBodyStream) {
        self.head = head
        self.body = []
        self.bodyStream = bodyStream
    }
}

/// A message body read piece by piece instead of held in memory: a large or chunked request body still arriving
/// from the client, or an upstream's large or unknown-length response body.
///
/// Single pass and single consumer: call ``next()`` until it returns nil. A consumer that stops before the end
/// (or gives up after an error) calls ``cancel()``, which releases the source: the connection the body comes
/// from is closed, never reused, since its framing position is lost.
public protocol HTTPBodyStream: Sendable {
    /// The body's total size in bytes when known in advance (`Content-Length`), nil otherwise.
    var length: Int? { get }
    /// The next piece of the body (never empty), or nil once the body is complete. Throws when the body cannot
    /// be read completely: the peer closed or stalled, a size limit was hit, or the framing was invalid.
    func next() async throws -> [UInt8]?
    /// Stops reading before the end and releases the source. Idempotent; a no-op after the end.
    func cancel()
}

/// A streamed body was longer than its reader would hold in memory.
public struct HTTPBodyTooLarge: Error, Sendable, CustomStringConvertible {
    public var limit: Int
    public var description: String { "body larger than \(limit) bytes" }
}

extension HTTPBodyStream {
    /// Reads the rest of the body into memory (for a consumer that needs it whole after all).
    /// - Parameter limit: the most bytes to hold; a longer body cancels the stream and throws
    ///   ``HTTPBodyTooLarge``.
    public func collect(limit: Int = .max) async throws -> [UInt8] {
        var body: [UInt8] = []
        do {
            if let length {
                guard length <= limit else { throw HTTPBodyTooLarge(limit: limit) }
                body.reserveCapacity(length)
            }
            while let piece = try await next() {
                guard piece.count <= limit - body.count else { throw HTTPBodyTooLarge(limit: limit) }
                // Without a reservation the first piece is adopted as is; with one, appended into it.
                if body.capacity == 0 { body = piece } else { body.append(contentsOf: piece) }
            }
        } catch {
            cancel()
            throw error
        }
        return body
    }
}

/// Anything that turns a request into a response: the idempotency engine, a backend, a test's closure.
///
/// Errors thrown here become `500 Internal Server Error` (or the status of an ``HTTPResponseError``).
public protocol HTTPHandler: Sendable {
    /// The request is `consuming`: a handler that changes it before passing it on (adding a header, say) changes it
    /// in place instead of copying its header fields. A witness may take it as a plain (borrowed) parameter.
    func handle(_ request: consuming GatewayRequest) async throws -> GatewayResponse

    /// Whether the handler takes this request's body as a ``GatewayRequest/bodyStream`` when it is large or
    /// chunked, instead of the server buffering it first. Asked once the head is parsed, only for such bodies.
    /// Default: false (the body arrives whole in ``GatewayRequest/body``).
    func acceptsStreamedBody(for head: HTTPRequest) -> Bool
    /// The handler's byte path for requests that need nothing but forwarding, if it has one (default: none).
    var byteForwarding: (any ByteForwarding)? { get }
}

extension HTTPHandler {
    public func acceptsStreamedBody(for head: HTTPRequest) -> Bool { false }
    public var byteForwarding: (any ByteForwarding)? { nil }
}

/// An error that knows which response it should become.
public protocol HTTPResponseError: Error {
    var response: GatewayResponse { get }
}

/// A handler made from a closure.
public struct ClosureHandler: HTTPHandler {
    private let body: @Sendable (GatewayRequest) async throws -> GatewayResponse

    public init(_ body: @escaping @Sendable (GatewayRequest) async throws -> GatewayResponse) {
        self.body = body
    }

    public func handle(_ request: consuming GatewayRequest) async throws -> GatewayResponse {
        try await body(request)
    }
}

/// The HTTP versions this gateway speaks (RFC 9112 §2.3).
public enum HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    case http1_0
    case http1_1

    public var description: String {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        }
    }
}

/// How a backend's exchange with an upstream failed. The idempotency engine decides from this whether the
/// request may have reached the upstream (and so whether the key can be released).
public enum UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing of the request was sent (connect refused, DNS, connect timeout): safe to release the key. → 502
    case unreachable(String)
    /// The request was sent but no complete response arrived before the deadline. → 504
    case timeout
    /// The exchange broke after the request (or part of it) was sent: the upstream may have acted. → 502
    case failed(String)

    public var description: String {
        switch self {
        case .unreachable(let reason): "upstream unreachable: \(reason)"
        case .timeout: "upstream response timeout"
        case .failed(let reason): "upstream exchange failed: \(reason)"
        }
    }
}
