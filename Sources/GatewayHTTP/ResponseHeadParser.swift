import HTTPTypes

/// Turns a complete, line-split response head into a ``ResponseHead`` (RFC 9112 §4, §6.3, §9.3).
/// Every failure is a `502`.
enum ResponseHeadParser {
    private static let statuses = ErrorStatuses.response

    /// Returns the head; `framing` already accounts for the request method and the status (HEAD, 1xx,
    /// 204 and 304 have no body, RFC 9112 §6.3 rules 1).
    static func parse(
        _ head: UnsafeBufferPointer<UInt8>, startLine: ByteRange, fieldLines: [ByteRange], requestMethod: HTTPRequest.Method
    ) throws(HTTPParseError) -> ResponseHead {
        var lines: [FieldLine] = []
        return try build(head, scan(head, startLine: startLine, fieldLines: fieldLines, requestMethod: requestMethod, into: &lines))
    }

    /// Everything ``parse(_:startLine:fieldLines:requestMethod:)`` checks, without building the reason phrase and
    /// header fields: every error it would throw is thrown here.
    /// - Parameter lines: replaced by the field lines (a buffer the caller reuses: the head shares it, and the next
    ///   scan writes into it without allocating once that head is gone).
    static func scan(
        _ head: UnsafeBufferPointer<UInt8>, startLine: ByteRange, fieldLines: [ByteRange], requestMethod: HTTPRequest.Method,
        into lines: inout [FieldLine]
    ) throws(HTTPParseError) -> ScannedResponseHead {
        // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
        guard startLine.count >= 12, head[startLine.start + 8] == ASCII.space else {
            throw statuses.bad("malformed status line")
        }
        let version = try FramingFields.version(
            head, ByteRange(start: startLine.start, end: startLine.start + 8), statuses: statuses
        )
        var code = 0
        for index in startLine.start + 9..<startLine.start + 12 {
            let byte = head[index]
            guard byte >= 0x30 && byte <= 0x39 else { throw statuses.bad("malformed status code") }
            code = code * 10 + Int(byte &- 0x30)
        }
        guard (100...599).contains(code) else { throw statuses.bad("status code out of range") }
        var reason = ByteRange(start: startLine.end, end: startLine.end)
        var asciiReason = true
        if startLine.count > 12 {
            // A missing SP before an empty reason is tolerated; otherwise SP then reason-phrase.
            guard head[startLine.start + 12] == ASCII.space else { throw statuses.bad("malformed status line") }
            reason = ByteRange(start: startLine.start + 13, end: startLine.end)
            for index in reason.start..<reason.end {
                let byte = head[index]
                guard isFieldValueChar(byte) else { throw statuses.bad("invalid character in reason phrase") }
                if byte >= 0x80 { asciiReason = false }
            }
        }
        // 101 Switching Protocols: the gateway never asks an upstream to upgrade.
        guard code != 101 else { throw statuses.bad("unexpected 101 Switching Protocols") }

        lines.removeAll(keepingCapacity: true)
        lines.reserveCapacity(fieldLines.count)
        var contentLength: Int?
        var transferEncoding = FramingFields.TransferEncodingList()
        var close = false
        var keepAliveOption = false
        for line in fieldLines {
            let fieldLine = try FieldLine.parse(head, line, statuses: statuses)
            let name = fieldLine.name
            switch name.count {
            case 14 where head.equalsToken(name, "content-length"):
                guard contentLength == nil else { throw statuses.bad("multiple Content-Length fields") }
                contentLength = try FramingFields.contentLength(head, fieldLine.value, statuses: statuses)
            case 17 where head.equalsToken(name, "transfer-encoding"):
                try transferEncoding.add(head, fieldLine.value, statuses: statuses)
            case 10 where head.equalsToken(name, "connection"):
                let options = FramingFields.connectionOptions(head, fieldLine.value)
                close = close || options.close
                keepAliveOption = keepAliveOption || options.keepAlive
            default:
                break
            }
            lines.append(fieldLine)
        }

        var framing: BodyFraming
        if transferEncoding.seen {
            // RFC 9112 §6.1: both together may be smuggling; this gateway rejects rather than repairs.
            if contentLength != nil { throw statuses.bad("Content-Length and Transfer-Encoding together") }
            if version == .http1_0 { throw statuses.bad("Transfer-Encoding in an HTTP/1.0 response") }
            // Only exactly "chunked" is decoded: the gateway re-frames bodies and cannot keep other codings.
            guard transferEncoding.coding == .chunked else { throw statuses.bad("unsupported transfer coding") }
            framing = .chunked
        } else if let contentLength {
            framing = .contentLength(contentLength)
        } else {
            // RFC 9112 §6.3 rule 8: no framing fields → the body runs until the connection closes.
            framing = .untilClose
        }
        // RFC 9112 §6.3 rule 1: no body after HEAD, or in 1xx, 204 and 304 responses.
        if requestMethod == .head || code < 200 || code == 204 || code == 304 { framing = .none }

        var keepAlive = close ? false : (version == .http1_1 || keepAliveOption)
        if framing == .untilClose { keepAlive = false }
        return ScannedResponseHead(
            code: code, reason: reason, asciiReason: asciiReason, version: version, fields: lines, keepAlive: keepAlive,
            framing: framing)
    }

    /// The response in swift-http-types form, from a head that ``scan(_:startLine:fieldLines:requestMethod:)``
    /// accepted (`head` is the same bytes).
    static func build(_ head: UnsafeBufferPointer<UInt8>, _ scanned: ScannedResponseHead) throws(HTTPParseError) -> ResponseHead {
        var reasonPhrase = ""
        if scanned.asciiReason {
            reasonPhrase = head.string(scanned.reason)
        } else {
            // RFC 9112 §4: obs-text in a reason phrase; decode as ISO Latin 1, as swift-http-types expects.
            reasonPhrase.unicodeScalars.append(
                contentsOf: UnsafeBufferPointer(rebasing: head[scanned.reason.start..<scanned.reason.end]).map {
                    Unicode.Scalar($0)
                })
        }
        var fields = HTTPFields()
        // Room for the fields the gateway adds (X-Request-Id, Date) without regrowing.
        fields.reserveCapacity(scanned.fields.count + 6)
        for line in scanned.fields { fields.append(try line.field(head, statuses: statuses)) }
        let response = HTTPResponse(status: .init(code: scanned.code, reasonPhrase: reasonPhrase), headerFields: fields)
        return ResponseHead(response: response, version: scanned.version, keepAlive: scanned.keepAlive, framing: scanned.framing)
    }
}

/// A response head that passed every check of ``ResponseHeadParser``, as ranges into its bytes.
struct ScannedResponseHead: Sendable {
    var code: Int
    /// The reason phrase as received (empty when there is none).
    var reason: ByteRange
    var asciiReason: Bool
    var version: HTTPVersion
    var fields: [FieldLine]
    var keepAlive: Bool
    var framing: BodyFraming
}
