import HTTPTypes

/// A request head kept as the bytes it arrived in, checked as strictly as ``RequestHead`` (every error the parser
/// reports for a ``RequestHead`` it reports for this too), but without the request's strings and header fields.
///
/// For the byte path of a reverse proxy: a request that needs nothing but forwarding is re-framed from these bytes
/// (``HTTPRequestDecoder/rawHeads``); any other is turned into a ``RequestHead`` with ``materialize()``.
public struct RawRequestHead: Sendable {
    /// The head as received: request line, field lines, the empty line.
    public let bytes: [UInt8]
    let scanned: ScannedRequestHead
    /// Every field line, in order, `Host` included.
    let fields: [FieldLine]

    init(bytes: [UInt8], scanned: ScannedRequestHead, fields: [FieldLine]) {
        self.bytes = bytes
        self.scanned = scanned
        self.fields = fields
    }

    public var method: HTTPRequest.Method { scanned.method }
    public var version: HTTPVersion { scanned.version }
    /// RFC 9112 §9.3, as ``RequestHead/keepAlive``.
    public var keepAlive: Bool { scanned.keepAlive }
    /// As ``RequestHead/expectsContinue``.
    public var expectsContinue: Bool { scanned.expectsContinue }
    public var framing: BodyFraming { scanned.framing }

    /// The request target's bytes (in ``bytes``) when it is in origin form (`/path?query`, RFC 9112 §3.2.1), else nil.
    public var originFormTarget: Range<Int>? {
        scanned.targetForm == .origin ? scanned.target.start..<scanned.target.end : nil
    }

    /// The number of field lines, `Host` included.
    public var fieldCount: Int { fields.count }
    /// Where field line `index`'s name is in ``bytes``.
    public func name(at index: Int) -> Range<Int> { fields[index].name.start..<fields[index].name.end }
    /// Where field line `index`'s value (without surrounding whitespace) is in ``bytes``.
    public func value(at index: Int) -> Range<Int> { fields[index].value.start..<fields[index].value.end }
    /// Whether field line `index` is the `Host` field.
    public func isHost(at index: Int) -> Bool { scanned.host?.name == fields[index].name }
    /// Where the `Host` field's value is in ``bytes`` (nil without one; an HTTP/1.1 request always has one).
    public var hostValue: Range<Int>? { scanned.host.map { $0.value.start..<$0.value.end } }

    /// The head in swift-http-types form, as ``HTTPRequestDecoder`` returns it without ``HTTPRequestDecoder/rawHeads``.
    public func materialize() throws(HTTPParseError) -> RequestHead {
        try bytes.withUnsafeBufferPointer { head throws(HTTPParseError) in try RequestHeadParser.build(head, scanned, fields) }
    }
}

/// A response head kept as the bytes it arrived in, checked as strictly as ``ResponseHead``, without its reason
/// phrase and header fields as strings (``HTTPResponseDecoder/rawHeads``). ``materialize()`` gives the
/// ``ResponseHead``.
public struct RawResponseHead: Sendable {
    /// The head as received: status line, field lines, the empty line.
    public let bytes: [UInt8]
    let scanned: ScannedResponseHead

    init(bytes: [UInt8], scanned: ScannedResponseHead) {
        self.bytes = bytes
        self.scanned = scanned
    }

    public var statusCode: Int { scanned.code }
    /// The reason phrase's bytes in ``bytes`` (empty when there is none).
    public var reasonPhrase: Range<Int> { scanned.reason.start..<scanned.reason.end }
    public var version: HTTPVersion { scanned.version }
    /// As ``ResponseHead/keepAlive``.
    public var keepAlive: Bool { scanned.keepAlive }
    /// As ``ResponseHead/framing``.
    public var framing: BodyFraming { scanned.framing }

    public var fieldCount: Int { scanned.fields.count }
    /// Where field line `index`'s name is in ``bytes``.
    public func name(at index: Int) -> Range<Int> { scanned.fields[index].name.start..<scanned.fields[index].name.end }
    /// Where field line `index`'s value (without surrounding whitespace) is in ``bytes``.
    public func value(at index: Int) -> Range<Int> { scanned.fields[index].value.start..<scanned.fields[index].value.end }

    /// The head in swift-http-types form, as ``HTTPResponseDecoder`` returns it without ``HTTPResponseDecoder/rawHeads``.
    public func materialize() throws(HTTPParseError) -> ResponseHead {
        try bytes.withUnsafeBufferPointer { head throws(HTTPParseError) in try ResponseHeadParser.build(head, scanned) }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Whether the bytes at `range` spell `lowercase` in any case (for field names, which are case-insensitive,
    /// RFC 9110 §5.1). `lowercase` must be lower-case ASCII.
    @inline(__always)
    public func equalsCaseInsensitive(_ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range outside the buffer")
        let expected = lowercase.utf8Start
        for offset in 0..<range.count {
            let byte = self[range.lowerBound + offset]
            let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != expected[offset] { return false }
        }
        return true
    }
}

extension Array where Element == UInt8 {
    /// Whether the bytes at `range` spell `lowercase` in any case (for field names, which are case-insensitive,
    /// RFC 9110 §5.1). `lowercase` must be lower-case ASCII.
    @inline(__always)
    public func equalsCaseInsensitive(_ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        withUnsafeBufferPointer { $0.equalsCaseInsensitive(range, lowercase) }
    }
}
