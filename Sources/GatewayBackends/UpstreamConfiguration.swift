import GatewayHTTP
import GatewaySockets

/// Where and how the reverse proxy reaches its upstream.
public struct UpstreamConfiguration: Sendable {
    /// The upstream's address (resolved once, at start).
    public var address: SocketAddress
    /// A path prefix put in front of every forwarded path (from `http://host:port/base`), "" for none.
    public var basePath: String
    /// Giving up on a connect after this → `502` (nothing was sent: the key is released).
    public var connectTimeout: Duration
    /// Waiting for a complete response longer than this → `504` (unless the request carries its own deadline).
    public var responseTimeout: Duration
    /// Idle keep-alive connections kept for reuse.
    public var maxIdleConnections: Int
    /// Idle connections older than this are not reused (upstreams close idle connections on their own timer).
    public var idleConnectionTimeout: Duration
    /// Largest response body accepted from the upstream when it is buffered; larger → `502`. A streamed
    /// response (see ``streamResponsesOver``) is not limited: it is never held whole.
    public var maxResponseBodySize: Int
    /// When the request allows it (``GatewayRequest/allowsStreamedResponse``), a response body with a
    /// `Content-Length` over this, or of unknown length (chunked or close-delimited) that grows past this size, is
    /// returned as a stream read lazily from the upstream connection (a smaller unknown-length body is buffered
    /// and sent on with `Content-Length`, as before). Default 64 KiB.
    public var streamResponsesOver: Int
    /// Limits on the upstream's response heads: header section size and field count (an upstream over them is
    /// answered `502`). Only the header limits apply to responses.
    public var responseLimits: HTTPLimits

    public init(
        address: SocketAddress,
        basePath: String = "",
        connectTimeout: Duration = .seconds(5),
        responseTimeout: Duration = .seconds(30),
        maxIdleConnections: Int = 64,
        idleConnectionTimeout: Duration = .seconds(30),
        maxResponseBodySize: Int = 256 * 1024 * 1024,
        streamResponsesOver: Int = 64 * 1024,
        responseLimits: HTTPLimits = HTTPLimits()
    ) {
        self.address = address
        self.basePath = basePath
        self.connectTimeout = connectTimeout
        self.responseTimeout = responseTimeout
        self.maxIdleConnections = maxIdleConnections
        self.idleConnectionTimeout = idleConnectionTimeout
        self.maxResponseBodySize = maxResponseBodySize
        self.streamResponsesOver = streamResponsesOver
        self.responseLimits = responseLimits
    }

    /// Parses `http://host[:port][/base-path]`. Only `http` is supported (no TLS).
    public init(url: String) throws(SocketError) {
        guard url.lowercased().hasPrefix("http://") else {
            throw .badAddress("upstream URL '\(url)' must start with http:// (TLS upstreams are not supported)")
        }
        let rest = url.dropFirst("http://".count)
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var basePath = String(rest[authorityEnd...])
        while basePath.hasSuffix("/") { basePath.removeLast() }
        var host = Substring(authority)
        var port: UInt16 = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .badAddress("bad IPv6 host in '\(url)'") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = UInt16(after.dropFirst()) else { throw .badAddress("bad port in '\(url)'") }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = UInt16(authority[authority.index(after: colon)...]) else {
                throw .badAddress("bad port in '\(url)'")
            }
            port = value
        }
        guard !host.isEmpty else { throw .badAddress("no host in '\(url)'") }
        self.init(address: try SocketAddress.resolve(host: String(host), port: port), basePath: basePath)
    }
}
