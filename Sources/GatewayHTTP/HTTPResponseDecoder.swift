import HTTPTypes

/// An incremental, strict HTTP/1.1 response decoder (RFC 9112), used by the upstream client.
///
/// Call ``expectResponse(to:)`` once per request sent (in order; pipelining is fine), append bytes as
/// they arrive, and call ``next()`` until it returns nil. When the peer closes, call ``finish()``: it
/// ends a close-delimited body. Interim 1xx responses come as `.informational` before the final head;
/// `101` is an error. Every failure is an ``HTTPParseError`` with status 502 and the decoder stays failed.
/// Body size is not limited here (`maxBodySize` applies to requests only).
public struct HTTPResponseDecoder: Sendable {
    private enum State: Sendable {
        case head
        case body
        case closed
        case failed(HTTPParseError)
    }

    private let limits: HTTPLimits
    private var buffer = InputBuffer()
    private var scanner: HeadScanner
    private var body = BodyDecoder()
    private var state = State.head
    private var pendingMethods: [HTTPRequest.Method] = []
    private var pendingIndex = 0
    /// The field lines of the head being parsed (reused from head to head).
    private var lines: [FieldLine] = []
    /// The last raw head, refilled for the next one when nothing else holds it.
    private var spareHead: RawResponseHead?

    /// When true, final heads come as ``ResponseEvent/rawHead(_:)`` (checked alike, but not turned into a
    /// ``ResponseHead``). Interim (1xx) heads still come as `.informational`.
    public var rawHeads = false

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        self.scanner = HeadScanner(startLineLimit: .response(maxLength: max(limits.maxRequestTargetLength, 1024)))
    }

    /// Before each response: the method of the request it answers (HEAD → no body; also 1xx/204/304 →
    /// no body, RFC 9112 §6.3). Without one, GET is assumed.
    public mutating func expectResponse(to method: HTTPRequest.Method) {
        if pendingIndex == pendingMethods.count {
            pendingMethods.removeAll(keepingCapacity: true)
            pendingIndex = 0
        }
        pendingMethods.append(method)
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        buffer.append(bytes)
    }

    /// Bytes appended but not yet consumed.
    public var hasBufferedBytes: Bool { !buffer.isEmpty }

    /// Between responses with nothing buffered.
    public var isIdle: Bool {
        if case .head = state { return buffer.isEmpty && scanner.isAtStart }
        return false
    }

    /// The next event, or nil when more bytes are needed.
    public mutating func next() throws(HTTPParseError) -> ResponseEvent? {
        do throws(HTTPParseError) {
            switch state {
            case .failed(let error):
                throw error
            case .closed:
                return nil
            case .head:
                return try decodeHead()
            case .body:
                switch try body.next(&buffer, limits: limits, statuses: .response) {
                case nil:
                    return nil
                case .data(let bytes):
                    return .body(bytes)
                case .end(let trailers):
                    state = .head
                    return .end(trailers: trailers)
                }
            }
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// The peer closed: ends a close-delimited body (`.end`, after a last `.body` if bytes were still
    /// buffered) or throws if a message was incomplete; nil if idle.
    public mutating func finish() throws(HTTPParseError) -> ResponseEvent? {
        if let event = try next() { return event }
        switch state {
        case .failed(let error):
            throw error
        case .closed:
            return nil
        case .head:
            skipEmptyLines()
            guard buffer.isEmpty && scanner.isAtStart else {
                let error = HTTPParseError(status: 502, reason: "connection closed inside a response head")
                state = .failed(error)
                throw error
            }
            state = .closed
            return nil
        case .body:
            guard body.isUntilClose else {
                let error = HTTPParseError(status: 502, reason: "connection closed inside a response body")
                state = .failed(error)
                throw error
            }
            state = .closed
            return .end(trailers: [:])
        }
    }

    private mutating func skipEmptyLines() {
        while buffer.readableCount >= 2 && buffer.bytes[buffer.readIndex] == ASCII.cr
            && buffer.bytes[buffer.readIndex + 1] == ASCII.lf
        {
            buffer.readIndex += 2
        }
    }

    private mutating func decodeHead() throws(HTTPParseError) -> ResponseEvent? {
        if scanner.isAtStart { skipEmptyLines() }
        guard !buffer.isEmpty else { return nil }
        let start = buffer.readIndex
        let limits = self.limits
        let method = pendingIndex < pendingMethods.count ? pendingMethods[pendingIndex] : .get
        let raw = rawHeads
        let decoded = try buffer.bytes.withUnsafeBufferPointer { bytes throws(HTTPParseError) -> (ResponseEvent, BodyFraming, Int)? in
            guard let length = try scanner.scan(bytes, headStart: start, limits: limits, statuses: .response) else {
                return nil
            }
            let head = UnsafeBufferPointer(rebasing: bytes[start..<start + length])
            let scanned = try ResponseHeadParser.scan(
                head, startLine: scanner.startLine, fieldLines: scanner.fieldLines, requestMethod: method, into: &lines
            )
            if scanned.code < 200 { return (.informational(try ResponseHeadParser.build(head, scanned).response), .none, length) }
            if raw {
                let head = RawResponseHead.make(reusing: &spareHead, bytes: head, scanned: scanned, lines: &lines)
                return (.rawHead(head), scanned.framing, length)
            }
            return (.head(try ResponseHeadParser.build(head, scanned)), scanned.framing, length)
        }
        guard let (event, framing, length) = decoded else { return nil }
        scanner.reset()
        buffer.readIndex = start + length
        if case .informational = event { return event }
        if pendingIndex < pendingMethods.count { pendingIndex += 1 }
        body.start(framing, maxBodySize: nil)
        state = .body
        return event
    }
}
