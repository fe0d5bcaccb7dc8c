/// Interpretation of the fields that decide framing and persistence, shared by both decoders.
enum FramingFields {
    /// RFC 9110 §8.6: `Content-Length = 1*DIGIT`. Strict: digits only, so "1,1", "+1", "1 1" and
    /// overflowing values fail.
    static func contentLength(
        _ bytes: UnsafeBufferPointer<UInt8>, _ value: ByteRange, statuses: ErrorStatuses
    ) throws(HTTPParseError) -> Int {
        guard !value.isEmpty else { throw statuses.bad("empty Content-Length") }
        var length = 0
        for index in value.start..<value.end {
            let byte = bytes[index]
            guard byte >= 0x30 && byte <= 0x39 else { throw statuses.bad("invalid Content-Length") }
            let (times10, overflow1) = length.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte &- 0x30))
            guard !overflow1 && !overflow2 else { throw statuses.bad("Content-Length too large") }
            length = sum
        }
        return length
    }

    /// What a list of transfer codings (RFC 9112 §6.1, §7) amounts to.
    enum TransferCoding {
        /// Exactly `chunked`.
        case chunked
        /// Well-formed, but something other than exactly `chunked`.
        case unsupported
    }

    /// Accumulates `Transfer-Encoding` field values (several fields form one list, RFC 9110 §5.3).
    struct TransferEncodingList {
        var chunkedCount = 0
        var otherCount = 0
        var seen: Bool { chunkedCount + otherCount > 0 }

        /// Adds one field value. Empty list elements are ignored (RFC 9110 §5.6.1.2), but a field of nothing else,
        /// a `chunked` with parameters or a coding that is not a token (optionally with `;param=value`) fail with 400.
        mutating func add(
            _ bytes: UnsafeBufferPointer<UInt8>, _ value: ByteRange, statuses: ErrorStatuses
        ) throws(HTTPParseError) {
            var malformed = false
            var chunked = 0
            var other = 0
            _ = bytes.forEachListElement(value) { element in
                // RFC 9110 §5.6.1.2: empty list elements ("chunked," or ", chunked") are ignored; a field of
                // nothing but them is malformed (below).
                guard !element.isEmpty else { return true }
                var index = element.start
                while index < element.end && isTokenChar(bytes[index]) { index += 1 }
                let name = ByteRange(start: element.start, end: index)
                guard !name.isEmpty else {
                    malformed = true
                    return false
                }
                if bytes.equalsToken(name, "chunked") {
                    guard index == element.end else {
                        malformed = true
                        return false
                    }
                    chunked += 1
                } else {
                    // A coding name that merely contains "chunked" ("chunkedx", "xchunked") is an
                    // obfuscation attempt, not an unknown coding: 400 rather than 501.
                    guard !Self.containsChunked(bytes, name),
                        Self.validParameters(bytes, ByteRange(start: index, end: element.end))
                    else {
                        malformed = true
                        return false
                    }
                    other += 1
                }
                return true
            }
            guard !malformed, chunked + other > 0 else { throw statuses.bad("malformed Transfer-Encoding") }
            chunkedCount += chunked
            otherCount += other
            // RFC 9112 §7.1: a sender MUST NOT apply chunked more than once.
            guard chunkedCount <= 1 else { throw statuses.bad("chunked applied more than once") }
        }

        private static func containsChunked(_ bytes: UnsafeBufferPointer<UInt8>, _ name: ByteRange) -> Bool {
            guard name.count > 7 else { return false }
            for start in name.start...(name.end - 7)
            where bytes.equalsCaseInsensitive(ByteRange(start: start, end: start + 7), "chunked") {
                return true
            }
            return false
        }

        /// RFC 9110 §5.6.6: `*( OWS ";" OWS token "=" ( token / quoted-string ) )` (quoted strings are
        /// not accepted here: no supported coding takes parameters).
        private static func validParameters(_ bytes: UnsafeBufferPointer<UInt8>, _ range: ByteRange) -> Bool {
            var index = range.start
            while index < range.end {
                while index < range.end && isWhitespace(bytes[index]) { index += 1 }
                guard index < range.end, bytes[index] == ASCII.semicolon else { return false }
                index += 1
                while index < range.end && isWhitespace(bytes[index]) { index += 1 }
                let nameStart = index
                while index < range.end && isTokenChar(bytes[index]) { index += 1 }
                guard index > nameStart, index < range.end, bytes[index] == ASCII.equals else { return false }
                index += 1
                let valueStart = index
                while index < range.end && isTokenChar(bytes[index]) { index += 1 }
                guard index > valueStart else { return false }
            }
            return true
        }

        /// The outcome once every field has been added; only meaningful when `seen`.
        var coding: TransferCoding {
            chunkedCount == 1 && otherCount == 0 ? .chunked : .unsupported
        }
    }

    /// RFC 9110 §7.6.1: `Connection = #connection-option`; returns (close, keepAlive) seen.
    static func connectionOptions(_ bytes: UnsafeBufferPointer<UInt8>, _ value: ByteRange) -> (close: Bool, keepAlive: Bool) {
        var close = false
        var keepAlive = false
        _ = bytes.forEachListElement(value) { element in
            if bytes.equalsCaseInsensitive(element, "close") {
                close = true
            } else if bytes.equalsCaseInsensitive(element, "keep-alive") {
                keepAlive = true
            }
            return true
        }
        return (close, keepAlive)
    }

    /// RFC 9112 §2.3: `HTTP-version = HTTP-name "/" DIGIT "." DIGIT`, HTTP-name case-sensitive.
    /// A well-formed version other than 1.0 or 1.1 → `unsupportedVersion` (505 for requests).
    static func version(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: ByteRange, statuses: ErrorStatuses
    ) throws(HTTPParseError) -> HTTPVersion {
        let start = range.start
        guard range.count == 8,
            bytes[start] == 0x48, bytes[start + 1] == 0x54, bytes[start + 2] == 0x54, bytes[start + 3] == 0x50,
            bytes[start + 4] == ASCII.slash, bytes[start + 6] == 0x2E,
            (0x30...0x39).contains(bytes[start + 5]), (0x30...0x39).contains(bytes[start + 7])
        else { throw statuses.bad("malformed HTTP version") }
        if bytes[start + 5] == 0x31 {
            if bytes[start + 7] == 0x31 { return .http1_1 }
            if bytes[start + 7] == 0x30 { return .http1_0 }
        }
        throw HTTPParseError(status: statuses.unsupportedVersion, reason: "unsupported HTTP version")
    }
}
