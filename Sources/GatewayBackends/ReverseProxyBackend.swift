import GatewayHTTP
import HTTPTypes

/// Forwards requests to one upstream and returns its responses faithfully (status, headers, bytes), minus
/// hop-by-hop fields (RFC 9110 §7.6.1) in both directions.
///
/// Added towards the upstream: `Via` (RFC 9110 §7.6.3, appended), `X-Forwarded-For` (appended),
/// `X-Forwarded-Proto`, and `Forwarded` (RFC 7239, appended). `Host` is preserved. `Max-Forwards` on OPTIONS and
/// TRACE is decremented, and at zero the gateway answers as the final recipient (RFC 9110 §7.6.2). Errors are
/// ``UpstreamError``s: `502` when unreachable or broken, `504` on timeout.
///
/// Nothing here needs a whole body: a streamed request body is forwarded as it arrives, and when the request
/// ``GatewayRequest/allowsStreamedResponse`` a large or unknown-length response body is relayed as it arrives
/// (``UpstreamClient``).
public struct ReverseProxyBackend: HTTPHandler {
    public let client: UpstreamClient

    public init(client: UpstreamClient) {
        self.client = client
    }

    public init(configuration: UpstreamConfiguration) {
        self.client = UpstreamClient(configuration: configuration)
    }

    public func handle(_ request: consuming GatewayRequest) async throws -> GatewayResponse {
        if request.head.method == .options || request.head.method == .trace,
            let remaining = MaxForwards.remaining(in: request.head.headerFields)
        {
            if remaining == 0 { return MaxForwards.finalResponse(to: request) }
            request.head.headerFields[.maxForwards] = String(remaining - 1)
        }
        // The request is ours: its head is edited in place (no copy of its header fields).
        HopByHopHeaders.remove(from: &request.head.headerFields)
        // RFC 9110 §10.1.1: the server answered the client's `100-continue` (the only expectation it accepts). A
        // buffered body goes out whole with the head, so the upstream is not asked to wait for it, and an HTTP/1.0
        // client's expectation, which is to be ignored, is not passed on as if it were HTTP/1.1's.
        if request.bodyStream == nil || request.connection.version == .http1_0 {
            request.head.headerFields[.expect] = nil
        }
        // RFC 9110 §7.6.3: a gateway sends Via in each request it forwards (received protocol, then pseudonym).
        let via = request.connection.version == .http1_0 ? Self.via10 : Self.via11
        if let existing = request.head.headerFields[.via] {
            request.head.headerFields[.via] = existing + ", " + via
        } else {
            request.head.headerFields.append(HTTPField(name: .via, value: via))
        }
        let forwarded = Self.forwardedElement(
            peer: request.connection.remoteAddress, scheme: request.connection.scheme, host: request.head.authority)
        let peer = request.connection.remoteAddress
        if !peer.isEmpty {
            if let existing = request.head.headerFields[.xForwardedFor] {
                request.head.headerFields[.xForwardedFor] = existing + ", " + peer
            } else {
                request.head.headerFields.append(HTTPField(name: .xForwardedFor, value: peer))
            }
        }
        request.head.headerFields[.xForwardedProto] = request.connection.scheme
        request.head.headerFields.append(HTTPField(name: .forwarded, value: forwarded))
        if request.head.scheme != nil {
            // An absolute-form target (RFC 9112 §3.2.2) is sent on in origin form; Host is its authority.
            request.head.scheme = nil
        }
        if request.head.authority == nil || request.head.authority?.isEmpty == true {
            // An HTTP/1.0 request may come without Host; HTTP/1.1 requires one (RFC 9112 §3.2): use the upstream's.
            request.head.authority = client.configuration.address.description
        }
        let base = client.configuration.basePath
        // `OPTIONS *` asks about the server as a whole (RFC 9112 §3.2.4): it stays `*`.
        if !base.isEmpty, let path = request.head.path, path != "*" { request.head.path = base + path }
        return try await client.send(
            request.head, body: request.body, bodyStream: request.bodyStream, deadline: request.upstreamDeadline,
            streamResponse: request.allowsStreamedResponse)
    }

    static let via11 = "1.1 idempotency-gateway"
    static let via10 = "1.0 idempotency-gateway"

    /// Always: request bodies are forwarded as they arrive.
    public func acceptsStreamedBody(for head: HTTPRequest) -> Bool { true }

    /// `for=…;proto=…;host=…` (RFC 7239 §4; IPv6 addresses quoted and bracketed, §6).
    static func forwardedElement(peer: String, scheme: String, host: String?) -> String {
        // Built by appending (cheaper than interpolation on this per-request path).
        var element = String()
        element.reserveCapacity(64)
        if peer.isEmpty {
            element.append("for=unknown")
        } else if peer.utf8.contains(UInt8(ascii: ":")) {
            element.append("for=\"[")
            element.append(peer)
            element.append("]\"")
        } else {
            element.append("for=")
            element.append(peer)
        }
        element.append(";proto=")
        element.append(scheme)
        if let host, !host.isEmpty {
            // A token can go bare; anything else (":" of a port, "[" of IPv6) is quoted (RFC 7239 §4).
            let safe = host.utf8.allSatisfy { byte in
                (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            }
            if safe {
                element.append(";host=")
                element.append(host)
            } else {
                element.append(";host=\"")
                let clean = !host.utf8.contains { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
                element.append(contentsOf: clean ? host : host.filter { $0 != "\"" && $0 != "\\" })
                element.append("\"")
            }
        }
        return element
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let forwarded = HTTPField.Name("Forwarded")!
}
