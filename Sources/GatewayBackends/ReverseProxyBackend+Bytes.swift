import GatewayHTTP
import HTTPTypes

/// The byte path of ``ReverseProxyBackend``: the same edits as ``ReverseProxyBackend/handle(_:)``, made on the
/// request's bytes (``RawRequestHead``) and on the response's (``RawResponseHead``), so that a plain request is
/// forwarded without building its swift-http-types form. The bytes sent either way are the same; a request whose
/// edits the byte path does not make is declined (``acceptsBytes(_:)``) and goes the usual way.
extension ReverseProxyBackend {
    /// Whether the byte path forwards `head` exactly as ``handle(_:)`` would: HTTP/1.1, an origin-form target, a
    /// method other than HEAD, OPTIONS and TRACE, no hop-by-hop field but `Connection: keep-alive` or `close`, and
    /// at most one each of `X-Request-Id`, `Via`, `X-Forwarded-For` and `X-Forwarded-Proto` (several would be
    /// joined into one).
    public func acceptsBytes(_ head: RawRequestHead) -> Bool {
        guard head.version == .http1_1, head.originFormTarget != nil else { return false }
        switch head.method {
        case .head, .options, .trace: return false
        default: break
        }
        var seen = EditedFields()
        for index in 0..<head.fieldCount {
            switch FieldKind(head.bytes, head.name(at: index)) {
            case .connection:
                guard FieldBytes.isConnectionOption(head.bytes, head.value(at: index)) else { return false }
            case .hopByHop:
                return false
            case .requestID:
                guard seen.note(.requestID) else { return false }
            case .via:
                guard seen.note(.via) else { return false }
            case .forwardedFor:
                guard seen.note(.forwardedFor) else { return false }
            case .forwardedProto:
                guard seen.note(.forwardedProto) else { return false }
            case .host, .framing, .other:
                break
            }
        }
        return true
    }

    /// The request `head` (which ``acceptsBytes(_:)`` took) with `body`, framed for the upstream: the fields as
    /// ``handle(_:)`` edits them, in the same order.
    /// - Parameter requestID: the `X-Request-Id` to forward (the client's field is replaced unless it says the same).
    public func forwardedRequest(
        _ head: RawRequestHead, body: [UInt8], connection: ConnectionInfo, requestID: String
    ) -> [UInt8] {
        let bytes = head.bytes
        var message: [UInt8] = []
        message.reserveCapacity(bytes.count + 320 + body.count)
        message.appendUTF8(head.method.rawValue)
        message.append(0x20)
        let base = client.configuration.basePath
        if !base.isEmpty { message.appendUTF8(base) }
        message.append(contentsOf: bytes[head.originFormTarget!])
        message.appendASCII(" HTTP/1.1\r\nHost: ")
        // An empty Host is replaced by the upstream's address (as in handle(_:)).
        var host: Range<Int>?
        for index in 0..<head.fieldCount where head.isHost(at: index) { host = head.value(at: index) }
        if let host, !host.isEmpty {
            message.append(contentsOf: bytes[host])
        } else {
            message.appendUTF8(client.configuration.address.description)
        }
        message.appendASCII("\r\n")
        let peer = connection.remoteAddress
        var seen = EditedFields()
        for index in 0..<head.fieldCount {
            let name = head.name(at: index)
            let value = head.value(at: index)
            switch FieldKind(bytes, name) {
            case .host, .framing, .connection, .hopByHop:
                continue
            case .requestID:
                seen.requestID = true
                if bytes[value].elementsEqual(requestID.utf8) {
                    FieldBytes.append(bytes[name], bytes[value], to: &message)
                } else {
                    FieldBytes.append("X-Request-Id: ", requestID, to: &message)
                }
            case .via:
                seen.via = true
                FieldBytes.append("Via: ", bytes[value], then: ", ", Self.via11, to: &message)
            case .forwardedFor:
                seen.forwardedFor = true
                if peer.isEmpty {
                    FieldBytes.append(bytes[name], bytes[value], to: &message)
                } else {
                    FieldBytes.append("X-Forwarded-For: ", bytes[value], then: ", ", peer, to: &message)
                }
            case .forwardedProto:
                seen.forwardedProto = true
                FieldBytes.append("X-Forwarded-Proto: ", connection.scheme, to: &message)
            case .other:
                FieldBytes.append(bytes[name], bytes[value], to: &message)
            }
        }
        // Appended in the order handle(_:) (after RequestIDForwarding) appends them.
        if !seen.requestID { FieldBytes.append("X-Request-Id: ", requestID, to: &message) }
        if !seen.via { FieldBytes.append("Via: ", Self.via11, to: &message) }
        if !seen.forwardedFor, !peer.isEmpty { FieldBytes.append("X-Forwarded-For: ", peer, to: &message) }
        if !seen.forwardedProto { FieldBytes.append("X-Forwarded-Proto: ", connection.scheme, to: &message) }
        // Its host is the request's own (none when Host is empty), as in handle(_:).
        message.appendASCII("Forwarded: ")
        Self.appendForwardedElement(
            peer: peer, scheme: connection.scheme, host: host.flatMap { $0.isEmpty ? nil : bytes[$0] }, to: &message)
        message.appendASCII("\r\n")
        // As HTTPEncoder frames a buffered body for the upstream.
        if !body.isEmpty || head.method == .post || head.method == .put || head.method == .patch {
            message.appendASCII("Content-Length: ")
            message.appendDecimal(body.count)
            message.appendASCII("\r\n")
        }
        message.appendASCII("\r\n")
        message.append(contentsOf: body)
        return message
    }

    /// ``forwardedElement(peer:scheme:host:)`` written into `buffer`, with the host as the request carried it.
    static func appendForwardedElement(peer: String, scheme: String, host: ArraySlice<UInt8>?, to buffer: inout [UInt8]) {
        if peer.isEmpty {
            buffer.appendASCII("for=unknown")
        } else if peer.utf8.contains(UInt8(ascii: ":")) {
            buffer.appendASCII("for=\"[")
            buffer.appendUTF8(peer)
            buffer.appendASCII("]\"")
        } else {
            buffer.appendASCII("for=")
            buffer.appendUTF8(peer)
        }
        buffer.appendASCII(";proto=")
        buffer.appendUTF8(scheme)
        guard let host, !host.isEmpty else { return }
        // A token can go bare; anything else (":" of a port, "[" of IPv6) is quoted (RFC 7239 §4).
        if host.allSatisfy(isForwardedTokenByte) {
            buffer.appendASCII(";host=")
            buffer.append(contentsOf: host)
        } else {
            buffer.appendASCII(";host=\"")
            for byte in host where byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") { buffer.append(byte) }
            buffer.append(UInt8(ascii: "\""))
        }
    }

    /// The bytes ``forwardedElement(peer:scheme:host:)`` leaves unquoted in a host.
    @inline(__always)
    static func isForwardedTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
    }

    /// The response's status line (after the version) and fields as the server writes them after ``handle(_:)``
    /// and the gateway's outermost handler: hop-by-hop and framing fields removed, `X-Request-Id` set to
    /// `requestID` (in place, or appended). Nil when its `Connection` field names other fields (the usual path
    /// removes those).
    /// - Returns: the bytes and whether they hold a `Date` field.
    public static func relayedHead(_ head: RawResponseHead, requestID: String) -> (encoded: [UInt8], hasDate: Bool)? {
        let bytes = head.bytes
        var encoded: [UInt8] = []
        encoded.reserveCapacity(bytes.count + 64)
        let code = head.statusCode
        encoded.append(UInt8(truncatingIfNeeded: 0x30 + code / 100 % 10))
        encoded.append(UInt8(truncatingIfNeeded: 0x30 + code / 10 % 10))
        encoded.append(UInt8(truncatingIfNeeded: 0x30 + code % 10))
        encoded.append(0x20)
        if head.reasonPhrase.isEmpty {
            encoded.append(contentsOf: ReasonPhrase.standard(for: code).utf8)
        } else {
            encoded.append(contentsOf: bytes[head.reasonPhrase])
        }
        encoded.appendASCII("\r\n")
        var hasDate = false
        var wroteRequestID = false
        for index in 0..<head.fieldCount {
            let name = head.name(at: index)
            let value = head.value(at: index)
            switch FieldKind(bytes, name) {
            case .connection:
                guard FieldBytes.isConnectionOption(bytes, value) else { return nil }
            case .framing, .hopByHop:
                continue
            case .requestID:
                // Replaced in place by the gateway's id; later ones go.
                if !wroteRequestID { FieldBytes.append("X-Request-Id: ", requestID, to: &encoded) }
                wroteRequestID = true
            default:
                if bytes.equalsCaseInsensitive(name, "date") { hasDate = true }
                FieldBytes.append(bytes[name], bytes[value], to: &encoded)
            }
        }
        if !wroteRequestID { FieldBytes.append("X-Request-Id: ", requestID, to: &encoded) }
        return (encoded, hasDate)
    }
}

/// What the byte path does with a field of a request or a response, by name (case-insensitive, RFC 9110 §5.1).
private enum FieldKind {
    case host
    /// `Content-Length`, `Transfer-Encoding`: rewritten by the framing.
    case framing
    case connection
    /// `Keep-Alive`, `TE`, `Trailer`, `Upgrade`, `Proxy-*` (RFC 9110 §7.6.1).
    case hopByHop
    case requestID
    case via
    case forwardedFor
    case forwardedProto
    case other

    init(_ bytes: [UInt8], _ name: Range<Int>) {
        // Length first: almost every name is sorted out without comparing bytes.
        switch name.count {
        case 2 where bytes.equalsCaseInsensitive(name, "te"): self = .hopByHop
        case 3 where bytes.equalsCaseInsensitive(name, "via"): self = .via
        case 4 where bytes.equalsCaseInsensitive(name, "host"): self = .host
        case 7 where bytes.equalsCaseInsensitive(name, "trailer") || bytes.equalsCaseInsensitive(name, "upgrade"):
            self = .hopByHop
        case 10 where bytes.equalsCaseInsensitive(name, "connection"): self = .connection
        case 10 where bytes.equalsCaseInsensitive(name, "keep-alive"): self = .hopByHop
        case 12 where bytes.equalsCaseInsensitive(name, "x-request-id"): self = .requestID
        case 14 where bytes.equalsCaseInsensitive(name, "content-length"): self = .framing
        case 15 where bytes.equalsCaseInsensitive(name, "x-forwarded-for"): self = .forwardedFor
        case 17 where bytes.equalsCaseInsensitive(name, "transfer-encoding"): self = .framing
        case 17 where bytes.equalsCaseInsensitive(name, "x-forwarded-proto"): self = .forwardedProto
        case 6... where bytes.equalsCaseInsensitive(name.lowerBound..<name.lowerBound + 6, "proxy-"): self = .hopByHop
        default: self = .other
        }
    }
}

/// Which of the fields the proxy edits a request had.
private struct EditedFields {
    var requestID = false
    var via = false
    var forwardedFor = false
    var forwardedProto = false

    enum Field { case requestID, via, forwardedFor, forwardedProto }

    /// Notes `field`; false when it was seen before.
    mutating func note(_ field: Field) -> Bool {
        switch field {
        case .requestID: defer { requestID = true }; return !requestID
        case .via: defer { via = true }; return !via
        case .forwardedFor: defer { forwardedFor = true }; return !forwardedFor
        case .forwardedProto: defer { forwardedProto = true }; return !forwardedProto
        }
    }
}

/// Field lines written as ``HTTPEncoder`` writes them: `name: value` CRLF. A name given as a `StaticString` carries
/// its `": "`, so that each piece is one copy.
private enum FieldBytes {
    static func append(_ name: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: name)
        buffer.append(0x3A)
        buffer.append(0x20)
        buffer.append(contentsOf: value)
        buffer.append(0x0D)
        buffer.append(0x0A)
    }

    static func append(_ nameAndColon: StaticString, _ value: String, to buffer: inout [UInt8]) {
        buffer.appendASCII(nameAndColon)
        buffer.appendUTF8(value)
        buffer.append(0x0D)
        buffer.append(0x0A)
    }

    /// `name: value` followed by `separator` and `suffix` in the value.
    static func append(
        _ nameAndColon: StaticString, _ value: ArraySlice<UInt8>, then separator: StaticString, _ suffix: String,
        to buffer: inout [UInt8]
    ) {
        buffer.appendASCII(nameAndColon)
        buffer.append(contentsOf: value)
        buffer.appendASCII(separator)
        buffer.appendUTF8(suffix)
        buffer.append(0x0D)
        buffer.append(0x0A)
    }

    /// True when a `Connection` value is just `keep-alive` or `close` (connection options, RFC 9112 §9.3, not names
    /// of other fields to remove).
    static func isConnectionOption(_ bytes: [UInt8], _ value: Range<Int>) -> Bool {
        bytes.equalsCaseInsensitive(value, "close") || bytes.equalsCaseInsensitive(value, "keep-alive")
    }
}

extension [UInt8] {
    /// Appends an ASCII literal with one copy.
    @inline(__always)
    mutating func appendASCII(_ literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends a string's UTF-8 with one copy (a small string's bytes are not walked one by one).
    @inline(__always)
    mutating func appendUTF8(_ string: String) {
        var string = string
        string.withUTF8 { append(contentsOf: $0) }
    }

    /// Appends a non-negative integer in decimal, without a String.
    mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0)
        if value < 10 {
            append(UInt8(truncatingIfNeeded: 0x30 + value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for Int.max's 19 digits
        var count = 0
        var rest = value
        Swift.withUnsafeMutableBytes(of: &digits) { scratch in
            while rest > 0 {
                scratch[23 - count] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
                count += 1
            }
            append(contentsOf: scratch[(24 - count)...])
        }
    }
}
