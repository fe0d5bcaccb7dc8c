import HTTPTypes

/// A handler's byte path: requests that need nothing but forwarding are relayed from the bytes they arrived in
/// (``RawRequestHead``), without building their swift-http-types form. Everything observable is as on the usual
/// path (``HTTPHandler/handle(_:)``): the same fields forwarded, the same response written.
///
/// The server asks ``accepts(_:)`` for each head (from a decoder with ``HTTPRequestDecoder/rawHeads``); a head it
/// declines is materialized and handled as usual.
public protocol ByteForwarding: Sendable {
    /// Whether this request takes the byte path. Asked once its head is complete, before its body is read (the
    /// server only asks for buffered bodies, with no `Expect: 100-continue`).
    func accepts(_ head: RawRequestHead) -> Bool
    /// A field (lower-case name) whose requests are never taken: their heads are decoded as usual from the start
    /// (``HTTPRequestDecoder/rawHeadsExcept``), without a copy for the byte path.
    var declinedField: StaticString? { get }
    /// Forwards a request ``accepts(_:)`` took, with its whole body. Never throws: failures are responses.
    func forward(_ head: RawRequestHead, body: [UInt8], connection: ConnectionInfo) async -> GatewayResponse
}

extension GatewayResponse {
    /// A response whose status line (after the version) and header fields are `encoded` as they go on the wire
    /// (``HTTPEncoder/encodeStatusAndFields(_:)``'s form), for the byte path: `head` carries the status alone.
    /// - Parameter hasDate: whether `encoded` has a `Date` field (else the server adds one).
    package init(status: Int, encoded: [UInt8], hasDate: Bool, body: [UInt8]) {
        // The usual status is one shared head (making an HTTPResponse costs about as much as relaying the head).
        self.init(head: status == 200 ? Self.statusOnly200 : HTTPResponse(status: .init(code: status)), body: body)
        self.encodedHead = encoded
        self.encodedHeadHasDate = hasDate
    }

    private static let statusOnly200 = HTTPResponse(status: .init(code: 200))
}
