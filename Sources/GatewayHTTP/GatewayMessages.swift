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

/// A complete request as the server hands it to a handler: the head in swift-http-types form and the body.
///
/// `head.authority` holds the `Host` header (RFC 9112 §3.2); `head.path` holds the request target in origin form
/// (for an absolute-form target, `scheme` and `authority` come from the target).
public struct GatewayRequest: Sendable {
    public var head: HTTPRequest
    public var body: [UInt8]
    public var connection: ConnectionInfo
    /// When set, a backend waits for the upstream's response until this instant instead of its own response
    /// timeout. The idempotency engine sets it to the end of the key's lease, so a slow upstream's answer can
    /// still be stored after the client got its 504.
    public var upstreamDeadline: ContinuousClock.Instant?
    /// The executor the request's connection runs on (the server's event loop). Work spawned for this request,
    /// such as the idempotency engine's background upstream exchange, should prefer it: socket events then
    /// resume that work without a thread hop.
    public var executor: (any TaskExecutor)?

    public init(
        head: HTTPRequest, body: [UInt8] = [], connection: ConnectionInfo = ConnectionInfo(),
        upstreamDeadline: ContinuousClock.Instant? = nil, executor: (any TaskExecutor)? = nil
    ) {
        self.head = head
        self.body = body
        self.connection = connection
        self.upstreamDeadline = upstreamDeadline
        self.executor = executor
    }
}

/// A complete response: status, header fields and body. Framing headers (`Content-Length`,
/// `Transfer-Encoding`) are recomputed by the server when it writes the response.
public struct GatewayResponse: Sendable {
    public var head: HTTPResponse
    public var body: [UInt8]

    public init(head: HTTPResponse, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        self.head = HTTPResponse(status: status, headerFields: headerFields)
        self.body = body
    }
}

/// Anything that turns a request into a response: the idempotency engine, a backend, a test's closure.
///
/// Errors thrown here become `500 Internal Server Error` (or the status of an ``HTTPResponseError``).
public protocol HTTPHandler: Sendable {
    func handle(_ request: GatewayRequest) async throws -> GatewayResponse
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

    public func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
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
