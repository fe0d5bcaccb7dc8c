import HTTPTypes

/// A decoded response head (RFC 9112 §4) and what it says about the connection and the body.
public struct ResponseHead: Sendable {
    /// Status (code and reason phrase, obs-text decoded as ISO Latin 1) and every field, in order.
    public var response: HTTPResponse
    /// The version of the status line.
    public var version: HTTPVersion
    /// RFC 9112 §9.3: whether the upstream connection may be reused after this response.
    /// Always false for a close-delimited body.
    public var keepAlive: Bool
    /// How the body is delimited (RFC 9112 §6.3).
    public var framing: BodyFraming

    public init(response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, framing: BodyFraming) {
        self.response = response
        self.version = version
        self.keepAlive = keepAlive
        self.framing = framing
    }
}

/// What ``HTTPResponseDecoder`` produces: any `.informational` (1xx) responses, then `.head`, zero or
/// more `.body` and one `.end` per response.
public enum ResponseEvent: Sendable {
    case informational(HTTPResponse)
    case head(ResponseHead)
    /// The head, from a decoder with ``HTTPResponseDecoder/rawHeads`` set (instead of `.head`).
    case rawHead(RawResponseHead)
    case body([UInt8])
    case end(trailers: HTTPFields)
}
