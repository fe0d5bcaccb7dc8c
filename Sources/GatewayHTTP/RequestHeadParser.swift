import HTTPTypes

/// Turns a complete, line-split request head into a ``RequestHead`` (RFC 9112 §3, §5, §6, §9.3).
enum RequestHeadParser {
    private static let statuses = ErrorStatuses.request
    /// The longest method accepted (longer → `501`, RFC 9112 §3), whether the line arrives at once or bit by bit.
    static let maxMethodLength = 1024

    static func parse(
        _ head: UnsafeBufferPointer<UInt8>, startLine: ByteRange, fieldLines: [ByteRange], limits: HTTPLimits
    ) throws(HTTPParseError) -> RequestHead {
        var lines: [FieldLine] = []
        let scanned = try scan(head, startLine: startLine, fieldLines: fieldLines, limits: limits, into: &lines)
        return try build(head, scanned, lines)
    }

    /// Everything ``parse(_:startLine:fieldLines:limits:)`` checks, without building the request's strings and header
    /// fields: every error it would throw is thrown here, in the same order.
    /// - Parameter lines: replaced by every field line, in order, `Host` included (a buffer the caller reuses).
    static func scan(
        _ head: UnsafeBufferPointer<UInt8>, startLine: ByteRange, fieldLines: [ByteRange], limits: HTTPLimits,
        into lines: inout [FieldLine]
    ) throws(HTTPParseError) -> ScannedRequestHead {
        // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
        var index = startLine.start
        while index < startLine.end && isTokenChar(head[index]) { index += 1 }
        guard index > startLine.start else { throw statuses.bad("invalid request method") }
        guard index < startLine.end, head[index] == ASCII.space else {
            throw statuses.bad(index == startLine.end ? "missing request target" : "invalid character in request method")
        }
        let methodRange = ByteRange(start: startLine.start, end: index)
        // RFC 9112 §3: "A server that receives a method longer than any that it implements SHOULD respond with a 501
        // (Not Implemented) status code."
        guard methodRange.count < Self.maxMethodLength else {
            throw HTTPParseError(status: 501, reason: "request method too long")
        }
        index += 1
        let targetStart = index
        // RFC 9112 §3.2: the target is visible ASCII; no CTL, SP, DEL or bytes over 0x7E.
        while index < startLine.end {
            let byte = head[index]
            if byte == ASCII.space { break }
            guard byte > 0x20 && byte < 0x7F else { throw statuses.bad("invalid character in request target") }
            index += 1
        }
        let target = ByteRange(start: targetStart, end: index)
        guard !target.isEmpty else { throw statuses.bad("empty request target") }
        guard target.count <= limits.maxRequestTargetLength else {
            throw HTTPParseError(status: 414, reason: "request target too long")
        }
        guard index < startLine.end else { throw statuses.bad("missing HTTP version") }
        let version = try FramingFields.version(head, ByteRange(start: index + 1, end: startLine.end), statuses: statuses)

        let (method, kind) = try method(head, methodRange)
        // CONNECT (authority-form, RFC 9112 §3.2.3) is a tunnel, which a reverse proxy does not offer.
        if kind == .connect { throw HTTPParseError(status: 501, reason: "CONNECT is not supported") }
        let targetForm = try requestTarget(head, target, method: kind)

        lines.removeAll(keepingCapacity: true)
        lines.reserveCapacity(fieldLines.count)
        var host: FieldLine?
        var contentLength: Int?
        var transferEncoding = FramingFields.TransferEncodingList()
        var close = false
        var keepAliveOption = false
        var expectsContinue = false
        var unsupportedExpectation = false
        for line in fieldLines {
            let fieldLine = try FieldLine.parse(head, line, statuses: statuses)
            let name = fieldLine.name
            switch name.count {
            case 4 where head.equalsToken(name, "host"):
                // RFC 9112 §3.2: a request with more than one Host field → 400.
                guard host == nil else { throw statuses.bad("multiple Host fields") }
                host = fieldLine
                lines.append(fieldLine)
                continue
            case 14 where head.equalsToken(name, "content-length"):
                // RFC 9112 §6.3 rule 5: several Content-Length values are rejected, even when equal.
                guard contentLength == nil else { throw statuses.bad("multiple Content-Length fields") }
                contentLength = try FramingFields.contentLength(head, fieldLine.value, statuses: statuses)
            case 17 where head.equalsToken(name, "transfer-encoding"):
                try transferEncoding.add(head, fieldLine.value, statuses: statuses)
            case 10 where head.equalsToken(name, "connection"):
                let options = FramingFields.connectionOptions(head, fieldLine.value)
                close = close || options.close
                keepAliveOption = keepAliveOption || options.keepAlive
            case 6 where head.equalsToken(name, "expect"):
                // RFC 9110 §10.1.1: the only expectation is 100-continue (case-insensitive). Expect is a list:
                // empty elements are ignored (RFC 9110 §5.6.1.2), any other expectation is unsupported.
                _ = head.forEachListElement(fieldLine.value) { element in
                    if element.isEmpty { return true }
                    if head.equalsCaseInsensitive(element, "100-continue") {
                        expectsContinue = true
                    } else {
                        unsupportedExpectation = true
                    }
                    return true
                }
            default:
                break
            }
            lines.append(fieldLine)
        }

        // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with several, → 400.
        if version == .http1_1 && host == nil { throw statuses.bad("missing Host field") }
        if let host, !isValidHost(head, host.value) { throw statuses.bad("invalid Host field") }

        let framing: BodyFraming
        if transferEncoding.seen {
            // RFC 9112 §6.1: Transfer-Encoding with Content-Length is a smuggling vector; reject.
            if contentLength != nil { throw statuses.bad("Content-Length and Transfer-Encoding together") }
            // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
            if version == .http1_0 { throw statuses.bad("Transfer-Encoding in an HTTP/1.0 request") }
            // RFC 9112 §6.1: a coding other than chunked that the server does not understand → 501.
            guard transferEncoding.coding == .chunked else {
                throw HTTPParseError(status: 501, reason: "unsupported transfer coding")
            }
            framing = .chunked
        } else if let contentLength {
            guard contentLength <= limits.maxBodySize else {
                throw HTTPParseError(status: 413, reason: "Content-Length exceeds the body limit")
            }
            framing = .contentLength(contentLength)
        } else {
            framing = .none
        }

        if version == .http1_1 && unsupportedExpectation {
            throw HTTPParseError(status: 417, reason: "unsupported expectation")
        }

        // RFC 9112 §9.3: persistence.
        let keepAlive = close ? false : (version == .http1_1 || keepAliveOption)
        return ScannedRequestHead(
            method: method, kind: kind, version: version, target: target, targetForm: targetForm, host: host,
            keepAlive: keepAlive, expectsContinue: version == .http1_1 && expectsContinue, framing: framing)
    }

    /// The request in swift-http-types form, from a head that ``scan(_:startLine:fieldLines:limits:)`` accepted
    /// (`head` is the same bytes, `lines` its field lines). Every field except `Host` goes into the header fields, in order.
    static func build(
        _ head: UnsafeBufferPointer<UInt8>, _ scanned: ScannedRequestHead, _ lines: [FieldLine]
    ) throws(HTTPParseError) -> RequestHead {
        var fields = HTTPFields()
        // Room for the fields the gateway adds (X-Request-Id, X-Forwarded-*, Forwarded, Date) without regrowing.
        fields.reserveCapacity(lines.count + 6)
        for line in lines where line.name != scanned.host?.name {
            fields.append(try line.field(head, statuses: statuses))
        }
        let method = scanned.method
        var scheme: String?
        var targetAuthority: String?
        var path: String
        switch scanned.targetForm {
        case .origin:
            path = head.string(scanned.target)
        case .asterisk:
            path = "*"
        case .absolute(let schemeRange, let authority, let pathRange):
            scheme = head.string(schemeRange).lowercased()
            targetAuthority = head.string(authority)
            path = head.string(pathRange)
            if path.utf8.first == 0x3F { path = "/" + path }
        }
        if targetAuthority == nil, let host = scanned.host { targetAuthority = head.string(host.value) }
        // RFC 9112 §3.2.1: an empty path is "/", except that an OPTIONS request for the server as a whole
        // ("OPTIONS http://host") goes to the origin as "OPTIONS *" (RFC 9112 §3.2.4).
        if path.isEmpty { path = method == .options ? "*" : "/" }
        let request = HTTPRequest(method: method, scheme: scheme, authority: targetAuthority, path: path, headerFields: fields)
        return RequestHead(
            request: request,
            version: scanned.version,
            keepAlive: scanned.keepAlive,
            expectsContinue: scanned.expectsContinue,
            framing: scanned.framing
        )
    }

    /// The method, with the common ones matched without building a String, and which of the gateway's known
    /// methods it is.
    private static func method(
        _ head: UnsafeBufferPointer<UInt8>, _ range: ByteRange
    ) throws(HTTPParseError) -> (HTTPRequest.Method, KnownMethod) {
        func spells(_ name: StaticString) -> Bool {
            guard range.count == name.utf8CodeUnitCount else { return false }
            for offset in 0..<range.count where head[range.start + offset] != name.utf8Start[offset] { return false }
            return true
        }
        // Methods are case-sensitive (RFC 9110 §9.1): these bytes, exactly.
        switch range.count {
        case 3:
            if spells("GET") { return (.get, .get) }
            if spells("PUT") { return (.put, .put) }
        case 4:
            if spells("POST") { return (.post, .post) }
            if spells("HEAD") { return (.head, .head) }
        case 5:
            if spells("PATCH") { return (.patch, .patch) }
            if spells("TRACE") { return (.trace, .trace) }
        case 6:
            if spells("DELETE") { return (.delete, .delete) }
        case 7:
            if spells("OPTIONS") { return (.options, .options) }
            if spells("CONNECT") { return (.connect, .connect) }
        default:
            break
        }
        // RFC 9110 §9.1: methods are case-sensitive tokens.
        guard let method = HTTPRequest.Method(head.string(range)) else { throw statuses.bad("invalid request method") }
        return (method, .other)
    }

    /// RFC 9112 §3.2: origin-form, absolute-form (http/https), or asterisk-form for OPTIONS.
    private static func requestTarget(
        _ head: UnsafeBufferPointer<UInt8>, _ target: ByteRange, method: KnownMethod
    ) throws(HTTPParseError) -> ScannedRequestHead.TargetForm {
        // A fragment is not part of any request-target form (RFC 9112 §3.2).
        for index in target.start..<target.end where head[index] == 0x23 {
            throw statuses.bad("fragment in request target")
        }
        let first = head[target.start]
        if first == ASCII.slash {
            return .origin
        }
        if target.count == 1 && first == 0x2A {
            // RFC 9112 §3.2.4: asterisk-form is only for OPTIONS.
            guard method == .options else { throw statuses.bad("asterisk-form target without OPTIONS") }
            return .asterisk
        }
        // RFC 9112 §3.2.2: absolute-form.
        var schemeEnd = target.start
        while schemeEnd < target.end && head[schemeEnd] != ASCII.colon { schemeEnd += 1 }
        let schemeRange = ByteRange(start: target.start, end: schemeEnd)
        guard head.equalsCaseInsensitive(schemeRange, "http") || head.equalsCaseInsensitive(schemeRange, "https"),
            target.end - schemeEnd >= 3, head[schemeEnd + 1] == ASCII.slash, head[schemeEnd + 2] == ASCII.slash
        else { throw statuses.bad("invalid request target") }
        let authorityStart = schemeEnd + 3
        var authorityEnd = authorityStart
        while authorityEnd < target.end && head[authorityEnd] != ASCII.slash && head[authorityEnd] != 0x3F {
            authorityEnd += 1
        }
        let authority = ByteRange(start: authorityStart, end: authorityEnd)
        // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error; an empty host is invalid (§4.2.1).
        guard !authority.isEmpty, isValidHost(head, authority) else { throw statuses.bad("invalid authority in request target") }
        return .absolute(scheme: schemeRange, authority: authority, path: ByteRange(start: authorityEnd, end: target.end))
    }

    /// RFC 3986 §3.2.2-3: `host [ ":" port ]`, host = IP-literal / IPv4address / reg-name. Rejects
    /// whitespace, "/", "@" (userinfo), "?" and "#". An empty value is allowed (RFC 9112 §3.2).
    static func isValidHost(_ bytes: UnsafeBufferPointer<UInt8>, _ range: ByteRange) -> Bool {
        if range.isEmpty { return true }
        var index = range.start
        if bytes[index] == 0x5B {  // "[" IP-literal "]"
            index += 1
            while index < range.end && bytes[index] != 0x5D {
                let byte = bytes[index]
                guard hexValue(byte) != nil || byte == ASCII.colon || byte == 0x2E || isUnreservedOrSubDelim(byte) else {
                    return false
                }
                index += 1
            }
            guard index < range.end, index > range.start + 1 else { return false }
            index += 1
        } else {
            let hostStart = index
            while index < range.end && bytes[index] != ASCII.colon {
                let byte = bytes[index]
                guard isUnreservedOrSubDelim(byte) || byte == 0x25 else { return false }
                index += 1
            }
            guard index > hostStart else { return false }
        }
        guard index < range.end else { return true }
        guard bytes[index] == ASCII.colon else { return false }
        index += 1
        while index < range.end {
            guard bytes[index] >= 0x30 && bytes[index] <= 0x39 else { return false }
            index += 1
        }
        return true
    }

    /// RFC 3986 §2.2-2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~";
    /// sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=".
    @inline(__always)
    private static func isUnreservedOrSubDelim(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: true
        case 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D: true
        default: false
        }
    }
}

/// A request head that passed every check of ``RequestHeadParser``, as ranges into its bytes: what the server needs
/// to frame the request and decide how to handle it, before (or instead of) building its swift-http-types form.
struct ScannedRequestHead: Sendable {
    /// RFC 9112 §3.2.
    enum TargetForm: Sendable, Equatable {
        case origin
        case asterisk
        case absolute(scheme: ByteRange, authority: ByteRange, path: ByteRange)
    }

    var method: HTTPRequest.Method
    /// ``method`` when it is one the gateway treats specially (compared as an integer, not a String).
    var kind: KnownMethod
    var version: HTTPVersion
    /// The request target as received.
    var target: ByteRange
    var targetForm: TargetForm
    /// The `Host` field line (there is at most one).
    var host: FieldLine?
    var keepAlive: Bool
    var expectsContinue: Bool
    var framing: BodyFraming
}
