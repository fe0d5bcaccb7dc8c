import HTTPTypes

/// Serialises HTTP/1.1 heads and chunks (RFC 9112) into a caller-owned byte buffer.
///
/// Framing is always recomputed: `Content-Length`, `Transfer-Encoding` and `Connection` fields present
/// in the message are dropped and written from the arguments instead, so a handler or an upstream can
/// never make the gateway send conflicting framing.
public enum HTTPEncoder {
    /// `HTTP/1.1 100 Continue` followed by the empty line (RFC 9110 §15.2.1).
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Status line + fields + CRLF (RFC 9112 §4, §5).
    ///
    /// Emits `Content-Length` when `contentLength != nil`, `Transfer-Encoding: chunked` when `chunked`,
    /// `Connection: close` when `!keepAlive` and `Connection: keep-alive` for an HTTP/1.0 peer kept alive.
    /// An empty reason phrase is replaced by the standard one for the status code.
    /// - Parameter appendedFields: fields written after the response's own (``GatewayResponse/appendedFields``).
    public static func encodeResponseHead(
        _ response: HTTPResponse, version: HTTPVersion, contentLength: Int?, chunked: Bool, keepAlive: Bool,
        appendedFields: HTTPFields = HTTPFields(), encoded: [UInt8]? = nil, into buffer: inout [UInt8]
    ) {
        buffer.append(contentsOf: version == .http1_0 ? "HTTP/1.0 ".utf8 : "HTTP/1.1 ".utf8)
        if let encoded {
            buffer.append(contentsOf: encoded)
        } else {
            appendStatusAndFields(response, into: &buffer)
        }
        if !appendedFields.isEmpty { appendFields(appendedFields, dropHost: false, into: &buffer) }
        appendFraming(contentLength: contentLength, chunked: chunked, into: &buffer)
        if !keepAlive {
            buffer.append(contentsOf: "Connection: close\r\n".utf8)
        } else if version == .http1_0 {
            buffer.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        appendCRLF(&buffer)
    }

    /// The part of a response head that depends on the response alone: the status line after the version
    /// (`200 OK` CRLF) and the header fields without framing and `Connection`. `encodeResponseHead` writes these
    /// bytes, when given them as `encoded`, in place of encoding the response.
    public static func encodeStatusAndFields(_ response: HTTPResponse) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        appendStatusAndFields(response, into: &buffer)
        return buffer
    }

    private static func appendStatusAndFields(_ response: HTTPResponse, into buffer: inout [UInt8]) {
        let code = response.status.code
        buffer.append(UInt8(truncatingIfNeeded: 0x30 + code / 100 % 10))
        buffer.append(UInt8(truncatingIfNeeded: 0x30 + code / 10 % 10))
        buffer.append(UInt8(truncatingIfNeeded: 0x30 + code % 10))
        buffer.append(ASCII.space)
        let reason = response.status.reasonPhrase
        if reason.isEmpty {
            buffer.append(contentsOf: ReasonPhrase.standard(for: code).utf8)
        } else if reason.utf8.allSatisfy({ $0 < 0x80 }) {
            buffer.append(contentsOf: reason.utf8)
        } else {
            // swift-http-types keeps reason phrases as ISO Latin 1: write one byte per scalar.
            for scalar in reason.unicodeScalars { buffer.append(scalar.value <= 0xFF ? UInt8(scalar.value) : ASCII.space) }
        }
        appendCRLF(&buffer)
        appendFields(response.headerFields, dropHost: false, into: &buffer)
    }

    /// Request line (origin-form: the request's path, "/" if none) + `Host` (from `authority`) + fields
    /// + framing, for the upstream client (RFC 9112 §3). `Host`, `Content-Length`, `Transfer-Encoding`
    /// and `Connection` fields in `request.headerFields` are dropped; the connection stays persistent.
    public static func encodeRequestHead(
        _ request: HTTPRequest, contentLength: Int?, chunked: Bool, into buffer: inout [UInt8]
    ) {
        buffer.append(contentsOf: request.method.rawValue.utf8)
        buffer.append(ASCII.space)
        let path = request.path ?? "/"
        buffer.append(contentsOf: path.isEmpty ? "/".utf8 : path.utf8)
        buffer.append(contentsOf: " HTTP/1.1\r\n".utf8)
        if let authority = request.authority {
            buffer.append(contentsOf: "Host: ".utf8)
            buffer.append(contentsOf: authority.utf8)
            appendCRLF(&buffer)
        }
        appendFields(request.headerFields, dropHost: true, into: &buffer)
        appendFraming(contentLength: contentLength, chunked: chunked, into: &buffer)
        appendCRLF(&buffer)
    }

    /// One chunk (RFC 9112 §7.1): hex size CRLF data CRLF. An empty collection writes nothing, since a
    /// zero-size chunk would end the body.
    public static func encodeChunk(_ bytes: some Collection<UInt8>, into buffer: inout [UInt8]) {
        let count = bytes.count
        guard count > 0 else { return }
        appendHex(count, into: &buffer)
        appendCRLF(&buffer)
        buffer.append(contentsOf: bytes)
        appendCRLF(&buffer)
    }

    /// The last chunk with no trailers: `0` CRLF CRLF (RFC 9112 §7.1).
    public static func encodeLastChunk(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: "0\r\n\r\n".utf8)
    }

    /// The last chunk followed by a trailer section (RFC 9112 §7.1.2).
    public static func encodeLastChunk(trailers: HTTPFields, into buffer: inout [UInt8]) {
        buffer.append(contentsOf: "0\r\n".utf8)
        appendFields(trailers, dropHost: true, into: &buffer)
        appendCRLF(&buffer)
    }

    @inline(__always)
    private static func appendCRLF(_ buffer: inout [UInt8]) {
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
    }

    private static func appendFraming(contentLength: Int?, chunked: Bool, into buffer: inout [UInt8]) {
        if let contentLength {
            buffer.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(contentLength, into: &buffer)
            appendCRLF(&buffer)
        } else if chunked {
            buffer.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
        }
    }

    private static func appendFields(_ fields: HTTPFields, dropHost: Bool, into buffer: inout [UInt8]) {
        for field in fields {
            let name = field.name
            if isFraming(name) || (dropHost && name.canonicalName == "host") { continue }
            buffer.append(contentsOf: name.rawName.utf8)
            buffer.append(ASCII.colon)
            buffer.append(ASCII.space)
            field.withUnsafeBytesOfValue { buffer.append(contentsOf: $0) }
            appendCRLF(&buffer)
        }
    }

    /// Whether `name` is one of the fields the encoder writes itself. Sorted out by length first, so that
    /// almost every other field is passed without comparing strings.
    @inline(__always)
    private static func isFraming(_ name: HTTPField.Name) -> Bool {
        switch name.canonicalName.utf8.count {
        case 14: name == .contentLength
        case 17: name == .transferEncoding
        case 10: name == .connection
        default: false
        }
    }

    private static func appendDecimal(_ value: Int, into buffer: inout [UInt8]) {
        guard value > 0 else {
            buffer.append(ASCII.zero)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var remaining = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while remaining > 0 {
                raw[count] = UInt8(truncatingIfNeeded: 0x30 + remaining % 10)
                remaining /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { buffer.append(raw[index]) }
        }
    }

    private static func appendHex(_ value: Int, into buffer: inout [UInt8]) {
        let hexDigits: StaticString = "0123456789abcdef"
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        while shift >= 0 {
            buffer.append(hexDigits.utf8Start[(value >> shift) & 0xF])
            shift -= 4
        }
    }
}
