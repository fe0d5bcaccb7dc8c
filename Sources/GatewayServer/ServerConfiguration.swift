import GatewayHTTP
import GatewaySockets

/// Settings of an ``HTTPServer``. Every limit has the status it answers with when exceeded.
public struct ServerConfiguration: Sendable {
    /// Where to listen. Port 0 asks the kernel for a free port (read it back from ``HTTPServer/address``).
    public var address: SocketAddress
    /// Parser limits: request target (414), header section size and count (431), body size (413).
    public var limits: HTTPLimits
    /// Time allowed from the first byte of a request to the end of its header section (slowloris). → 408 + close
    public var headerTimeout: Duration
    /// Longest pause allowed between two reads of a request body. → 408 + close
    public var bodyTimeout: Duration
    /// How long a keep-alive connection may sit between requests before it is closed.
    public var idleTimeout: Duration
    /// How long a client may leave its receive window full while a response is written (a client that stops reading).
    public var writeTimeout: Duration
    /// Request bodies larger than this (by `Content-Length`), and chunked bodies once they grow past it, are
    /// handed to a handler that accepts them (``HTTPHandler/acceptsStreamedBody(for:)``) as a stream while they
    /// arrive instead of being buffered first. The body limit (413) and body timeout (408) still apply while
    /// streaming. Default 64 KiB.
    public var streamBodiesOver: Int
    /// Connections beyond this are answered `503` with `Retry-After: 1` and closed.
    public var maxConnections: Int
    /// The most request-body bytes buffered in memory at once, over all connections (``BufferedBodyBudget``). A
    /// request whose buffered body would go past it is answered `503` with `Retry-After: 1` before it reaches the
    /// handler (so nothing is forwarded), and the connection closes. Streamed bodies do not count. Default 512 MiB.
    public var maxBufferedBodyBytes: Int
    /// `listen(2)` backlog.
    public var backlog: Int32

    public init(
        address: SocketAddress,
        limits: HTTPLimits = HTTPLimits(),
        headerTimeout: Duration = .seconds(10),
        bodyTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60),
        writeTimeout: Duration = .seconds(30),
        maxConnections: Int = 4096,
        backlog: Int32 = 1024,
        streamBodiesOver: Int = 64 * 1024,
        maxBufferedBodyBytes: Int = 512 * 1024 * 1024
    ) {
        self.address = address
        self.limits = limits
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.maxConnections = maxConnections
        self.backlog = backlog
        self.streamBodiesOver = streamBodiesOver
        self.maxBufferedBodyBytes = maxBufferedBodyBytes
    }
}
