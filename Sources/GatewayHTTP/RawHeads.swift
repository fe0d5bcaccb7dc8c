import HTTPTypes

/// A request head kept as the bytes it arrived in, checked as strictly as ``RequestHead`` (every error the parser
/// reports for a ``RequestHead`` it reports for this too), but without the request's strings and header fields.
///
/// For the byte path of a reverse proxy: a request that needs nothing but forwarding is re-framed from these bytes
/// (``HTTPRequestDecoder/rawHeads``); any other is turned into a ``RequestHead`` with ``materialize()``.
///
/// A class: the byte path hands the head through several calls, and a copy is one retain instead of a copy of
/// every part (the decoder's event holds it without a box). Its decoder refills the same object for a later head
/// once nothing else holds it, so a connection's heads allocate nothing.
///
/// `@unchecked Sendable`: immutable while anything but its decoder holds it. The decoder writes it only while its
/// own reference is the only one (`isKnownUniquelyReferenced`), before handing it out again; its stored properties
/// are `@exclusivity(unchecked)` for the same reason (no access can overlap a write).
public final class RawRequestHead: @unchecked Sendable {
    /// The head as received: request line, field lines, the empty line.
    @exclusivity(unchecked) public private(set) var bytes: [UInt8]
    @exclusivity(unchecked) private(set) var scanned: ScannedRequestHead
    /// Every field line, in order, `Host` included.
    @exclusivity(unchecked) private(set) var fields: [FieldLine]

    init(bytes: [UInt8], scanned: ScannedRequestHead, fields: [FieldLine]) {
        self.bytes = bytes
        self.scanned = scanned
        self.fields = fields
    }

    /// The head of `bytes`: `spare` refilled when nothing but the decoder holds it, else a new head (kept as the
    /// next spare when small). The head takes the field lines in `lines` (the decoder's buffer), which gets the
    /// head's previous buffer back to scan the next head into.
    static func make(
        reusing spare: inout RawRequestHead?, bytes: UnsafeBufferPointer<UInt8>, scanned: ScannedRequestHead,
        lines: inout [FieldLine]
    ) -> RawRequestHead {
        if isKnownUniquelyReferenced(&spare), let head = spare {
            head.bytes.refill(from: bytes)
            head.scanned = scanned
            swap(&head.fields, &lines)
            return head
        }
        let head = RawRequestHead(bytes: Array(bytes), scanned: scanned, fields: [])
        swap(&head.fields, &lines)
        spare = bytes.count <= RawHeadReuse.maxKept ? head : nil
        return head
    }

    public var method: HTTPRequest.Method { scanned.method }
    /// ``method`` as one of the methods the gateway treats specially (an integer to compare).
    public var knownMethod: KnownMethod { scanned.kind }
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
/// ``ResponseHead``. A class its decoder refills, as ``RawRequestHead`` is.
///
/// `@unchecked Sendable`: as ``RawRequestHead``, written only by its decoder while no one else holds it.
public final class RawResponseHead: @unchecked Sendable {
    /// The head as received: status line, field lines, the empty line.
    @exclusivity(unchecked) public private(set) var bytes: [UInt8]
    @exclusivity(unchecked) private(set) var scanned: ScannedResponseHead

    init(bytes: [UInt8], scanned: ScannedResponseHead) {
        self.bytes = bytes
        self.scanned = scanned
    }

    /// As ``RawRequestHead/make(reusing:bytes:scanned:lines:)``: `scanned`'s field lines are `lines`, which
    /// gets the head's previous buffer back.
    static func make(
        reusing spare: inout RawResponseHead?, bytes: UnsafeBufferPointer<UInt8>, scanned: ScannedResponseHead,
        lines: inout [FieldLine]
    ) -> RawResponseHead {
        if isKnownUniquelyReferenced(&spare), let head = spare {
            head.bytes.refill(from: bytes)
            // The decoder scans the next head into the previous field lines; only the head holds the new ones.
            lines = head.scanned.fields
            head.scanned = scanned
            return head
        }
        let head = RawResponseHead(bytes: Array(bytes), scanned: scanned)
        lines = []
        spare = bytes.count <= RawHeadReuse.maxKept ? head : nil
        return head
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

/// How large a head a decoder keeps to refill (a connection that once sent a huge head does not hold its memory).
enum RawHeadReuse {
    static let maxKept = 4096
}

extension Array where Element == UInt8 {
    /// Replaces the contents with `bytes`, in the storage already there when it is large enough.
    fileprivate mutating func refill(from bytes: UnsafeBufferPointer<UInt8>) {
        removeAll(keepingCapacity: true)
        append(contentsOf: bytes)
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Whether the bytes at `range` spell `lowercase` in any case (for field names, which are case-insensitive,
    /// RFC 9110 §5.1). `lowercase` must be lower-case ASCII.
    @inlinable @inline(__always)
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
    @inlinable @inline(__always)
    public func equalsCaseInsensitive(_ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        withUnsafeBufferPointer { $0.equalsCaseInsensitive(range, lowercase) }
    }
}
