import HTTPTypes

/// A decoded request head (RFC 9112 §2.1, §3, §5) and what it says about the connection and the body.
public struct RequestHead: Sendable {
    /// The request in swift-http-types form.
    ///
    /// - `method`: the request method.
    /// - `path`: the request target as received for origin-form (`/a?b`) and asterisk-form (`*`,
    ///   OPTIONS only); for absolute-form (`http://host/a?b`) the target's path and query (`/a?b`).
    /// - `authority`: the `Host` field value for origin-form (RFC 9112 §3.2); the target's authority for
    ///   absolute-form (RFC 9112 §3.2.2).
    /// - `scheme`: the target's scheme for absolute-form, nil otherwise.
    /// - `headerFields`: every field except `Host`, in order, names as received (framing fields included).
    public var request: HTTPRequest
    /// The version of the request line.
    public var version: HTTPVersion
    /// RFC 9112 §9.3: HTTP/1.1 is persistent unless `Connection: close`; HTTP/1.0 only with `keep-alive`.
    public var keepAlive: Bool
    /// `Expect: 100-continue` on an HTTP/1.1 request (RFC 9110 §10.1.1).
    public var expectsContinue: Bool
    /// How the body is delimited: `.none`, `.contentLength(n)` or `.chunked`.
    public var framing: BodyFraming

    public init(request: HTTPRequest, version: HTTPVersion, keepAlive: Bool, expectsContinue: Bool, framing: BodyFraming) {
        self.request = request
        self.version = version
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
        self.framing = framing
    }
}

/// What ``HTTPRequestDecoder`` produces: one `.head`, zero or more `.body`, one `.end` per request.
public enum RequestEvent: Sendable {
    case head(RequestHead)
    /// The head, from a decoder with ``HTTPRequestDecoder/rawHeads`` set (instead of `.head`).
    case rawHead(RawRequestHead)
    case body([UInt8])
    /// The request is complete. `trailers` is empty unless a chunked body carried a trailer section.
    case end(trailers: HTTPFields)
}
