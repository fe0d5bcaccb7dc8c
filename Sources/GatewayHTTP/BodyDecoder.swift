import HTTPTypes

/// Decodes a message body after its head: a fixed length (RFC 9112 §6.2), the chunked coding
/// (RFC 9112 §7.1) or everything until the peer closes (RFC 9112 §6.3 rule 8). Shared by both decoders.
///
/// Each call delivers the bytes available now; it never waits for the whole body.
struct BodyDecoder: Sendable {
    enum Event: Sendable {
        case data([UInt8])
        case end(HTTPFields)
    }

    private enum Phase: Sendable {
        case contentLength(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    private var phase = Phase.done
    private var decodedSize = 0
    private var trailerScanner = HeadScanner(startLineLimit: .none)
    /// Largest decoded chunked body, nil for no limit.
    private var maxBodySize: Int?

    var isDone: Bool {
        if case .done = phase { return true }
        return false
    }

    var isUntilClose: Bool {
        if case .untilClose = phase { return true }
        return false
    }

    /// Starts a body with `framing`; `.none` and `.contentLength(0)` end at once.
    mutating func start(_ framing: BodyFraming, maxBodySize: Int?) {
        self.maxBodySize = maxBodySize
        decodedSize = 0
        switch framing {
        case .none: phase = .contentLength(remaining: 0)
        case .contentLength(let length): phase = .contentLength(remaining: length)
        case .chunked:
            phase = .chunkSize
            trailerScanner.reset()
        case .untilClose: phase = .untilClose
        }
    }

    /// The next body event, or nil when more bytes are needed.
    mutating func next(
        _ buffer: inout InputBuffer, limits: HTTPLimits, statuses: ErrorStatuses
    ) throws(HTTPParseError) -> Event? {
        while true {
            switch phase {
            case .done:
                return nil
            case .contentLength(let remaining):
                if remaining == 0 {
                    phase = .done
                    return .end([:])
                }
                let count = min(remaining, buffer.readableCount)
                guard count > 0 else { return nil }
                phase = .contentLength(remaining: remaining - count)
                return .data(buffer.take(count))
            case .untilClose:
                let count = buffer.readableCount
                guard count > 0 else { return nil }
                return .data(buffer.take(count))
            case .chunkData(let remaining):
                let count = min(remaining, buffer.readableCount)
                guard count > 0 else { return nil }
                phase = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
                return .data(buffer.take(count))
            case .chunkDataEnd:
                // RFC 9112 §7.1: chunk-data is followed by CRLF.
                guard buffer.readableCount >= 2 else {
                    if buffer.readableCount == 1 && buffer.bytes[buffer.readIndex] != ASCII.cr {
                        throw statuses.bad("missing CRLF after chunk data")
                    }
                    return nil
                }
                guard buffer.bytes[buffer.readIndex] == ASCII.cr, buffer.bytes[buffer.readIndex + 1] == ASCII.lf else {
                    throw statuses.bad("missing CRLF after chunk data")
                }
                buffer.readIndex += 2
                phase = .chunkSize
            case .chunkSize:
                guard let size = try parseChunkSizeLine(&buffer, limits: limits, statuses: statuses) else { return nil }
                if size == 0 {
                    phase = .trailers
                } else {
                    decodedSize += size
                    if let maxBodySize, decodedSize > maxBodySize {
                        throw HTTPParseError(status: statuses.bodyTooLarge, reason: "chunked body too large")
                    }
                    phase = .chunkData(remaining: size)
                }
            case .trailers:
                guard let trailers = try parseTrailers(&buffer, limits: limits, statuses: statuses) else { return nil }
                phase = .done
                return .end(trailers)
            }
        }
    }

    /// RFC 9112 §7.1: `chunk-size [ chunk-ext ] CRLF`, chunk-size = 1*HEXDIG. Strict: no whitespace
    /// before the size, no sign, no "0x", at most 16 significant hex digits (leading zeros are allowed, within
    /// `maxChunkLineLength`) and no overflow.
    private func parseChunkSizeLine(
        _ buffer: inout InputBuffer, limits: HTTPLimits, statuses: ErrorStatuses
    ) throws(HTTPParseError) -> Int? {
        let start = buffer.readIndex
        let parsed = try buffer.bytes.withUnsafeBufferPointer { bytes throws(HTTPParseError) -> (size: Int, next: Int)? in
            let end = bytes.count
            var lineEnd = start
            while lineEnd < end && bytes[lineEnd] != ASCII.cr {
                if bytes[lineEnd] == ASCII.lf { throw statuses.bad("bare LF in chunk size line") }
                lineEnd += 1
            }
            guard lineEnd + 1 < end else {
                if lineEnd - start > limits.maxChunkLineLength { throw statuses.bad("chunk size line too long") }
                return nil
            }
            guard bytes[lineEnd + 1] == ASCII.lf else { throw statuses.bad("bare CR in chunk size line") }
            if lineEnd - start > limits.maxChunkLineLength { throw statuses.bad("chunk size line too long") }
            var index = start
            var size = 0
            var significant = 0
            while index < lineEnd, let digit = hexValue(bytes[index]) {
                if size != 0 || digit != 0 { significant += 1 }
                guard significant <= 16 else { throw statuses.bad("chunk size too large") }
                size = size << 4 | digit
                index += 1
            }
            guard index > start else { throw statuses.bad("invalid chunk size") }
            guard size >= 0 else { throw statuses.bad("chunk size too large") }
            try validateChunkExtensions(bytes, ByteRange(start: index, end: lineEnd), statuses: statuses)
            return (size, lineEnd + 2)
        }
        guard let parsed else { return nil }
        buffer.readIndex = parsed.next
        return parsed.size
    }

    /// RFC 9112 §7.1.1: `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`,
    /// chunk-ext-val = token / quoted-string. Extensions are validated and ignored.
    private func validateChunkExtensions(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: ByteRange, statuses: ErrorStatuses
    ) throws(HTTPParseError) {
        var index = range.start
        let end = range.end
        func skipWhitespace() { while index < end && isWhitespace(bytes[index]) { index += 1 } }
        func token() -> Bool {
            let start = index
            while index < end && isTokenChar(bytes[index]) { index += 1 }
            return index > start
        }
        while index < end {
            // BWS is only allowed before ";": "5 \r\n" is malformed.
            skipWhitespace()
            guard index < end, bytes[index] == ASCII.semicolon else { throw statuses.bad("invalid chunk extension") }
            index += 1
            skipWhitespace()
            guard token() else { throw statuses.bad("invalid chunk extension name") }
            skipWhitespace()
            guard index < end, bytes[index] == ASCII.equals else { continue }
            index += 1
            skipWhitespace()
            guard index < end else { throw statuses.bad("missing chunk extension value") }
            if bytes[index] == ASCII.quote {
                // RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
                index += 1
                var closed = false
                while index < end {
                    let byte = bytes[index]
                    if byte == ASCII.quote {
                        closed = true
                        index += 1
                        break
                    }
                    if byte == ASCII.backslash {
                        index += 1
                        guard index < end, isFieldValueChar(bytes[index]) else {
                            throw statuses.bad("invalid quoted-pair in chunk extension")
                        }
                    } else if !isFieldValueChar(byte) {
                        throw statuses.bad("invalid character in chunk extension")
                    }
                    index += 1
                }
                guard closed else { throw statuses.bad("unterminated quoted chunk extension value") }
            } else if !token() {
                throw statuses.bad("invalid chunk extension value")
            }
        }
    }

    /// RFC 9112 §7.1.2: trailer fields use the field-line rules. Framing and routing fields are
    /// forbidden there (RFC 9110 §6.5.1): Content-Length, Transfer-Encoding or Host in a trailer → 400.
    private mutating func parseTrailers(
        _ buffer: inout InputBuffer, limits: HTTPLimits, statuses: ErrorStatuses
    ) throws(HTTPParseError) -> HTTPFields? {
        let start = buffer.readIndex
        let parsed = try buffer.bytes.withUnsafeBufferPointer { bytes throws(HTTPParseError) -> (HTTPFields, Int)? in
            guard let length = try trailerScanner.scan(bytes, headStart: start, limits: limits, statuses: statuses) else {
                return nil
            }
            let section = UnsafeBufferPointer(rebasing: bytes[start..<start + length])
            var fields = HTTPFields()
            for line in trailerScanner.fieldLines {
                let fieldLine = try FieldLine.parse(section, line, statuses: statuses)
                if section.equalsToken(fieldLine.name, "content-length")
                    || section.equalsToken(fieldLine.name, "transfer-encoding")
                    || section.equalsToken(fieldLine.name, "host")
                {
                    throw statuses.bad("framing field in trailer section")
                }
                fields.append(try fieldLine.field(section, statuses: statuses))
            }
            return (fields, length)
        }
        guard let (fields, length) = parsed else { return nil }
        trailerScanner.reset()
        buffer.readIndex = start + length
        return fields
    }
}
