#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the end of a head (start line + field lines + empty line, RFC 9112 §2.1) or of a trailer
/// section (RFC 9112 §7.1.2) incrementally, remembering where each line is.
///
/// Scanning resumes where the previous call stopped, so feeding a head one byte at a time costs O(n).
/// Line endings are strict: every line must end in CRLF; a bare LF or a CR not followed by LF fails
/// with `400` (RFC 9112 §2.2 lets a recipient accept a bare LF; this gateway does not, so that it never
/// disagrees with an upstream about where a line ends). Limits are checked as bytes arrive.
struct HeadScanner: Sendable {
    /// How long a start line may grow before the scanner gives up on it.
    enum StartLineLimit: Sendable {
        /// A request line: the target may be `maxRequestTargetLength` long (→ 414).
        case request(maxTarget: Int)
        /// A status line: at most this many bytes.
        case response(maxLength: Int)
        /// A trailer section has no start line.
        case none
    }

    private(set) var startLine = ByteRange(start: 0, end: 0)
    /// Field lines, as offsets from the head's first byte, CRLF excluded. Reused between messages.
    private(set) var fieldLines: [ByteRange] = []
    private var scanned = 0
    private var lineStart = 0
    /// Offset of the first field line, nil while the start line is incomplete.
    private var sectionStart: Int?
    private let startLineLimit: StartLineLimit

    init(startLineLimit: StartLineLimit) {
        self.startLineLimit = startLineLimit
        // One allocation for a typical head, instead of growing 1, 2, 4, 8, 16 on a decoder's first message
        // (trailer sections, which rarely occur, grow as needed).
        if case .none = startLineLimit {} else { fieldLines.reserveCapacity(24) }
        reset()
    }

    /// Whether nothing of a head has been scanned yet.
    var isAtStart: Bool { scanned == 0 }

    mutating func reset() {
        scanned = 0
        lineStart = 0
        fieldLines.removeAll(keepingCapacity: true)
        if case .none = startLineLimit { sectionStart = 0 } else { sectionStart = nil }
    }

    /// Scans `buffer` from `headStart` on. Returns the head's length including the final empty line once
    /// it is complete, nil when more bytes are needed.
    mutating func scan(
        _ buffer: UnsafeBufferPointer<UInt8>, headStart: Int, limits: HTTPLimits, statuses: ErrorStatuses
    ) throws(HTTPParseError) -> Int? {
        let end = buffer.count
        var index = headStart + scanned
        guard let start = buffer.baseAddress else { return nil }
        while index < end {
            // The next CR, then no LF before it: two memchr(3) calls per line, which look at many bytes at a time,
            // instead of two comparisons per byte.
            let carriageReturn = memchr(start + index, Int32(ASCII.cr), end - index)
            let lineEnd = carriageReturn.map { UnsafeRawPointer($0) - UnsafeRawPointer(start) } ?? end
            if memchr(start + index, Int32(ASCII.lf), lineEnd - index) != nil { throw statuses.bad("bare LF in head") }
            index = lineEnd
            if index < end {
                guard index + 1 < end else { break }
                guard buffer[index + 1] == ASCII.lf else { throw statuses.bad("bare CR in head") }
                let line = ByteRange(start: lineStart, end: index - headStart)
                index += 2
                lineStart = index - headStart
                if let sectionStart {
                    if line.isEmpty {
                        scanned = index - headStart
                        return scanned
                    }
                    fieldLines.append(line)
                    if fieldLines.count > limits.maxHeaderCount {
                        throw HTTPParseError(status: statuses.headerTooLarge, reason: "too many header fields")
                    }
                    if lineStart - sectionStart > limits.maxHeaderSectionSize {
                        throw HTTPParseError(status: statuses.headerTooLarge, reason: "header section too large")
                    }
                } else {
                    guard !line.isEmpty else { throw statuses.bad("empty start line") }
                    startLine = line
                    sectionStart = lineStart
                }
            }
        }
        scanned = index - headStart
        if let sectionStart {
            if scanned - sectionStart > limits.maxHeaderSectionSize {
                throw HTTPParseError(status: statuses.headerTooLarge, reason: "header section too large")
            }
        } else {
            try checkStartLineLength(buffer, headStart: headStart, statuses: statuses)
        }
        return nil
    }

    /// RFC 9112 §3: a server receiving a request target longer than it wishes to parse answers 414.
    private func checkStartLineLength(
        _ buffer: UnsafeBufferPointer<UInt8>, headStart: Int, statuses: ErrorStatuses
    ) throws(HTTPParseError) {
        switch startLineLimit {
        case .none:
            return
        case .response(let maxLength):
            if scanned > maxLength { throw statuses.bad("status line too long") }
        case .request(let maxTarget):
            // Slack for the method and " HTTP/1.1"; only look closer when the line is really long.
            guard scanned > maxTarget + 16 else { return }
            let lineEnd = headStart + scanned
            let methodLimit = headStart + RequestHeadParser.maxMethodLength
            var index = headStart
            while index < min(lineEnd, methodLimit) && buffer[index] != ASCII.space { index += 1 }
            // RFC 9112 §3: "A server that receives a method longer than any that it implements SHOULD respond with
            // a 501 (Not Implemented) status code."
            if index >= methodLimit { throw HTTPParseError(status: 501, reason: "request method too long") }
            if index == lineEnd { return }  // the method is still arriving
            let targetStart = index + 1
            index = targetStart
            while index < lineEnd && buffer[index] != ASCII.space { index += 1 }
            if index - targetStart > maxTarget {
                throw HTTPParseError(status: statuses.targetTooLong, reason: "request target too long")
            }
            if scanned > maxTarget + 1024 + 16 { throw statuses.bad("request line too long") }
        }
    }
}
