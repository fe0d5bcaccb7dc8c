import HTTPTypes

/// An incremental, strict HTTP/1.1 request decoder (RFC 9112). No I/O: append bytes as they arrive
/// and call ``next()`` until it returns nil.
///
/// Bytes may arrive one at a time or as many pipelined requests at once; each request yields `.head`,
/// then `.body` events with whatever body bytes are available, then `.end`. After an error the decoder
/// stays failed and keeps throwing the same error: the connection must be closed after answering.
///
/// Strictness, beyond the RFC's MUSTs (chosen so the gateway never frames a message differently from an
/// upstream): CRLF only; no obs-fold; several `Content-Length` fields → 400 even if equal;
/// `Transfer-Encoding` with `Content-Length` → 400; a `Transfer-Encoding` field of only empty list elements → 400
/// (empty elements beside a coding are ignored, RFC 9110 §5.6.1.2); CONNECT → 501; a fragment in the target → 400.
public struct HTTPRequestDecoder: Sendable {
    private enum State: Sendable {
        case head
        case body
        case failed(HTTPParseError)
    }

    private let limits: HTTPLimits
    private var buffer = InputBuffer()
    private var scanner: HeadScanner
    private var body = BodyDecoder()
    private var state = State.head

    /// When true, heads come as ``RequestEvent/rawHead(_:)`` (checked alike, but not turned into a ``RequestHead``).
    public var rawHeads = false
    /// With ``rawHeads``: a head with a field of this name (lower-case) comes as `.head` all the same (a request
    /// its byte path never takes is not copied for it).
    public var rawHeadsExcept: StaticString?
    /// The field lines of the head being parsed (reused from head to head).
    private var lines: [FieldLine] = []
    /// The last raw head, refilled for the next one when nothing else holds it.
    private var spareHead: RawRequestHead?

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        self.scanner = HeadScanner(startLineLimit: .request(maxTarget: limits.maxRequestTargetLength))
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        buffer.append(bytes)
    }

    /// Bytes appended but not yet consumed (e.g. the start of a pipelined request).
    public var hasBufferedBytes: Bool { !buffer.isEmpty }

    /// How many bytes are appended but not yet consumed (after a head: whether its whole body is here).
    public var bufferedByteCount: Int { buffer.readableCount }

    /// Whether the head being decoded starts with the method `HEAD` (a complete request line is not needed): an
    /// error answer to a head that failed to decode then carries no body (RFC 9110 §9.3.2). Meaningful while no head
    /// has been returned for the current request, including after a failure in its head.
    public var headBeingDecodedIsHEAD: Bool {
        let start = buffer.readIndex
        guard buffer.bytes.count - start >= 5 else { return false }
        return buffer.bytes[start] == 0x48 && buffer.bytes[start + 1] == 0x45 && buffer.bytes[start + 2] == 0x41
            && buffer.bytes[start + 3] == 0x44 && buffer.bytes[start + 4] == ASCII.space
    }

    /// Between messages with nothing buffered.
    public var isIdle: Bool {
        if case .head = state { return buffer.isEmpty && scanner.isAtStart }
        return false
    }

    /// The next event, or nil when more bytes are needed. After an error the decoder stays failed.
    public mutating func next() throws(HTTPParseError) -> RequestEvent? {
        switch state {
        case .failed(let error):
            throw error
        case .head:
            do {
                return try decodeHead()
            } catch {
                state = .failed(error)
                throw error
            }
        case .body:
            do {
                switch try body.next(&buffer, limits: limits, statuses: .request) {
                case nil:
                    return nil
                case .data(let bytes):
                    return .body(bytes)
                case .end(let trailers):
                    state = .head
                    return .end(trailers: trailers)
                }
            } catch {
                state = .failed(error)
                throw error
            }
        }
    }

    private mutating func decodeHead() throws(HTTPParseError) -> RequestEvent? {
        if scanner.isAtStart {
            // RFC 9112 §2.2: ignore empty lines (CRLF) received before the request line.
            while buffer.readableCount >= 2 && buffer.bytes[buffer.readIndex] == ASCII.cr
                && buffer.bytes[buffer.readIndex + 1] == ASCII.lf
            {
                buffer.readIndex += 2
            }
        }
        guard !buffer.isEmpty else { return nil }
        let start = buffer.readIndex
        let limits = self.limits
        let (raw, except) = (rawHeads, rawHeadsExcept)
        let decoded = try buffer.bytes.withUnsafeBufferPointer { bytes throws(HTTPParseError) -> (RequestEvent, BodyFraming, Int)? in
            guard let length = try scanner.scan(bytes, headStart: start, limits: limits, statuses: .request) else {
                return nil
            }
            let head = UnsafeBufferPointer(rebasing: bytes[start..<start + length])
            let scanned = try RequestHeadParser.scan(
                head, startLine: scanner.startLine, fieldLines: scanner.fieldLines, limits: limits, into: &lines
            )
            if raw, except == nil || !lines.contains(where: { head.equalsToken($0.name, except!) }) {
                let raw = RawRequestHead.make(reusing: &spareHead, bytes: head, scanned: scanned, lines: &lines)
                return (.rawHead(raw), scanned.framing, length)
            }
            return (.head(try RequestHeadParser.build(head, scanned, lines)), scanned.framing, length)
        }
        guard let (event, framing, length) = decoded else { return nil }
        scanner.reset()
        buffer.readIndex = start + length
        body.start(framing, maxBodySize: limits.maxBodySize)
        state = .body
        return event
    }
}
