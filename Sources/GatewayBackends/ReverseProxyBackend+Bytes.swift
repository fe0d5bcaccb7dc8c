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
        switch head.knownMethod {
        case .head, .options, .trace: return false
        default: break
        }
        return head.bytes.withUnsafeBufferPointer { bytes in
            var seen = EditedFields()
            for index in 0..<head.fieldCount {
                switch FieldKind(bytes, head.name(at: index)) {
                case .connection:
                    guard FieldBytes.isConnectionOption(bytes, head.value(at: index)) else { return false }
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
    }

    /// The request `head` (which ``acceptsBytes(_:)`` took) with `body`, framed for the upstream: the fields as
    /// ``handle(_:)`` edits them, in the same order.
    /// - Parameter requestID: the `X-Request-Id` to forward (the client's field is replaced unless it says the same).
    public func forwardedRequest(
        _ head: RawRequestHead, body: [UInt8], connection: ConnectionInfo, requestID: String
    ) -> [UInt8] {
        let base = client.configuration.basePath
        let host = head.hostValue
        // An empty Host is replaced by the upstream's address (as in handle(_:)).
        let address = host?.isEmpty == false ? "" : client.configuration.address.description
        let peer = connection.remoteAddress
        let scheme = connection.scheme
        // Every piece written below fits: each field line of the head at most once more than as received (a
        // missing space after the colon), the head's bytes at most twice more (its Host again in Forwarded, its
        // target), and the gateway's own fields.
        let capacity =
            3 * head.bytes.count + head.fieldCount + base.utf8.count + address.utf8.count
            + 3 * (requestID.utf8.count + peer.utf8.count + scheme.utf8.count + Self.via11.utf8.count) + 320 + body.count
        return ByteWriter.bytes(capacity: capacity) { message in
            head.bytes.withUnsafeBufferPointer { bytes in
                message.write(head.method.rawValue)
                message.write(byte: 0x20)
                if !base.isEmpty { message.write(base) }
                message.write(bytes, head.originFormTarget!)
                message.write(" HTTP/1.1\r\nHost: ")
                if let host, !host.isEmpty {
                    message.write(bytes, host)
                } else {
                    message.write(address)
                }
                message.write("\r\n")
                var seen = EditedFields()
                for index in 0..<head.fieldCount {
                    let name = head.name(at: index)
                    let value = head.value(at: index)
                    switch FieldKind(bytes, name) {
                    case .host, .framing, .connection, .hopByHop:
                        continue
                    case .requestID:
                        seen.requestID = true
                        if UnsafeBufferPointer(rebasing: bytes[value]).elementsEqual(requestID.utf8) {
                            message.writeField(bytes, name, value)
                        } else {
                            message.writeField("X-Request-Id: ", requestID)
                        }
                    case .via:
                        seen.via = true
                        message.write("Via: ")
                        message.write(bytes, value)
                        message.write(", ")
                        message.write(Self.via11)
                        message.write("\r\n")
                    case .forwardedFor:
                        seen.forwardedFor = true
                        if peer.isEmpty {
                            message.writeField(bytes, name, value)
                        } else {
                            message.write("X-Forwarded-For: ")
                            message.write(bytes, value)
                            message.write(", ")
                            message.write(peer)
                            message.write("\r\n")
                        }
                    case .forwardedProto:
                        seen.forwardedProto = true
                        message.writeField("X-Forwarded-Proto: ", scheme)
                    case .other:
                        message.writeField(bytes, name, value)
                    }
                }
                // Appended in the order handle(_:) (after RequestIDForwarding) appends them.
                if !seen.requestID { message.writeField("X-Request-Id: ", requestID) }
                if !seen.via { message.writeField("Via: ", Self.via11) }
                if !seen.forwardedFor, !peer.isEmpty { message.writeField("X-Forwarded-For: ", peer) }
                if !seen.forwardedProto { message.writeField("X-Forwarded-Proto: ", scheme) }
                // Its host is the request's own (none when Host is empty), as in handle(_:).
                message.write("Forwarded: ")
                Self.writeForwardedElement(
                    peer: peer, scheme: scheme, host: host.flatMap { $0.isEmpty ? nil : UnsafeBufferPointer(rebasing: bytes[$0]) },
                    to: &message)
                message.write("\r\n")
                // As HTTPEncoder frames a buffered body for the upstream.
                let method = head.knownMethod
                if !body.isEmpty || method == .post || method == .put || method == .patch {
                    message.write("Content-Length: ")
                    message.write(decimal: body.count)
                    message.write("\r\n")
                }
                message.write("\r\n")
            }
            body.withUnsafeBufferPointer { message.write($0) }
        }
    }

    /// ``forwardedElement(peer:scheme:host:)`` written into `writer`, with the host as the request carried it.
    static func writeForwardedElement(
        peer: String, scheme: String, host: UnsafeBufferPointer<UInt8>?, to writer: inout ByteWriter
    ) {
        if peer.isEmpty {
            writer.write("for=unknown")
        } else if isIPv6(peer) {
            writer.write("for=\"[")
            writer.write(peer)
            writer.write("]\"")
        } else {
            writer.write("for=")
            writer.write(peer)
        }
        writer.write(";proto=")
        writer.write(scheme)
        guard let host, !host.isEmpty else { return }
        // A token can go bare; anything else (":" of a port, "[" of IPv6) is quoted (RFC 7239 §4).
        if host.allSatisfy(isForwardedTokenByte) {
            writer.write(";host=")
            writer.write(host)
        } else if !host.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            // The usual case (a port's colon): quoted as it is.
            writer.write(";host=\"")
            writer.write(host)
            writer.write(byte: UInt8(ascii: "\""))
        } else {
            writer.write(";host=\"")
            for byte in host where byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") { writer.write(byte: byte) }
            writer.write(byte: UInt8(ascii: "\""))
        }
    }

    /// Whether a peer address has a colon (an IPv6 address), looked for in its UTF-8 at once.
    @inline(__always)
    private static func isIPv6(_ peer: String) -> Bool {
        var peer = peer
        return peer.withUTF8 { $0.contains(UInt8(ascii: ":")) }
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
        let code = head.statusCode
        let reason = head.reasonPhrase.isEmpty ? ReasonPhrase.standard(for: code) : nil
        // Each field line at most once more than as received (a missing space after the colon).
        let capacity =
            2 * head.bytes.count + head.fieldCount + requestID.utf8.count + (reason?.utf8.count ?? 0) + 64
        var hasDate = false
        var namesFields = false
        let encoded = ByteWriter.bytes(capacity: capacity) { encoded in
            head.bytes.withUnsafeBufferPointer { bytes in
                encoded.write(byte: UInt8(truncatingIfNeeded: 0x30 + code / 100 % 10))
                encoded.write(byte: UInt8(truncatingIfNeeded: 0x30 + code / 10 % 10))
                encoded.write(byte: UInt8(truncatingIfNeeded: 0x30 + code % 10))
                encoded.write(byte: 0x20)
                if let reason {
                    encoded.write(reason)
                } else {
                    encoded.write(bytes, head.reasonPhrase)
                }
                encoded.write("\r\n")
                var wroteRequestID = false
                for index in 0..<head.fieldCount {
                    let name = head.name(at: index)
                    let value = head.value(at: index)
                    switch FieldKind(bytes, name) {
                    case .connection:
                        if !FieldBytes.isConnectionOption(bytes, value) {
                            namesFields = true
                            return
                        }
                    case .framing, .hopByHop:
                        continue
                    case .requestID:
                        // Replaced in place by the gateway's id; later ones go.
                        if !wroteRequestID { encoded.writeField("X-Request-Id: ", requestID) }
                        wroteRequestID = true
                    default:
                        if FieldBytes.equalsCaseInsensitive(bytes, name, "date") { hasDate = true }
                        encoded.writeField(bytes, name, value)
                    }
                }
                if !wroteRequestID { encoded.writeField("X-Request-Id: ", requestID) }
            }
        }
        return namesFields ? nil : (encoded, hasDate)
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

    init(_ bytes: UnsafeBufferPointer<UInt8>, _ name: Range<Int>) {
        func named(_ lowercase: StaticString) -> Bool { FieldBytes.equalsCaseInsensitive(bytes, name, lowercase) }
        // Length first: almost every name is sorted out without comparing bytes.
        switch name.count {
        case 2 where named("te"): self = .hopByHop
        case 3 where named("via"): self = .via
        case 4 where named("host"): self = .host
        case 7 where named("trailer") || named("upgrade"): self = .hopByHop
        case 10 where named("connection"): self = .connection
        case 10 where named("keep-alive"): self = .hopByHop
        case 12 where named("x-request-id"): self = .requestID
        case 14 where named("content-length"): self = .framing
        case 15 where named("x-forwarded-for"): self = .forwardedFor
        case 17 where named("transfer-encoding"): self = .framing
        case 17 where named("x-forwarded-proto"): self = .forwardedProto
        case 6... where FieldBytes.equalsCaseInsensitive(bytes, name.lowerBound..<name.lowerBound + 6, "proxy-"):
            self = .hopByHop
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

/// Comparisons on a head's bytes.
private enum FieldBytes {
    /// Whether the bytes at `range` spell `lowercase` in any case (field names are case-insensitive, RFC 9110 §5.1).
    @inline(__always)
    static func equalsCaseInsensitive(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        bytes.equalsCaseInsensitive(range, lowercase)
    }

    /// True when a `Connection` value is just `keep-alive` or `close` (connection options, RFC 9112 §9.3, not names
    /// of other fields to remove).
    static func isConnectionOption(_ bytes: UnsafeBufferPointer<UInt8>, _ value: Range<Int>) -> Bool {
        equalsCaseInsensitive(bytes, value, "close") || equalsCaseInsensitive(bytes, value, "keep-alive")
    }
}

extension ByteWriter {
    /// A field line as ``HTTPEncoder`` writes it: `name: value` CRLF, from a head's bytes.
    @inline(__always)
    mutating func writeField(_ bytes: UnsafeBufferPointer<UInt8>, _ name: Range<Int>, _ value: Range<Int>) {
        write(bytes, name)
        write(": ")
        write(bytes, value)
        write("\r\n")
    }

    /// A field line whose name is given with its colon and space (`"Via: "`).
    @inline(__always)
    mutating func writeField(_ nameAndColon: StaticString, _ value: String) {
        write(nameAndColon)
        write(value)
        write("\r\n")
    }
}
