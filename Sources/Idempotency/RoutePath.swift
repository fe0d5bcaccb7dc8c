/// The form of a request path that routes are matched against, so that spellings meaning the same resource
/// (`/v1/./payments`, `/v1/x/../payments`, `/v1//payments`, `/v1/%70ayments`) pick the same route as
/// `/v1/payments`. Only route matching uses it: the forwarded path and the fingerprint keep the path as received.
///
/// The steps, in order:
/// 1. Only the path: a `?query` is cut off. An empty path is `/` (RFC 3986 §6.2.3).
/// 2. Percent-encoding normalisation (RFC 3986 §6.2.2.2, §2.3): `%XX` of an unreserved character
///    (ALPHA, DIGIT, `-`, `.`, `_`, `~`; hex digits in either case) is decoded; any other `%XX` stays encoded with
///    its hex digits upper-cased (§6.2.2.1, §2.1), so `%2f` becomes `%2F` and is never a segment separator.
///    A `%` not followed by two hex digits is kept as is.
/// 3. Repeated slashes are merged (`//` is `/`), as many origin servers do (nginx `merge_slashes`).
/// 4. Dot segments are removed (RFC 3986 §5.2.4, §6.2.2.3), including those spelt with percent-encoding
///    (`%2e%2e`). A `..` at the root stays at the root. A trailing `.` or `..` leaves a trailing `/`.
///
/// Runs on every request: a path with no `%`, no `//` and no `.`/`..` segment is returned as a slice of its
/// input without building a new string.
public enum RoutePath {
    /// `path` (origin form, possibly with a query) in its normalised form; see ``RoutePath``.
    public static func normalized(_ path: String) -> Substring {
        let end = path.utf8.firstIndex(of: ASCII.question) ?? path.utf8.endIndex
        let pathPart = path[..<end]
        if pathPart.isEmpty { return "/" }  // RFC 3986 §6.2.3
        let simple =
            pathPart.utf8.withContiguousStorageIfAvailable(isNormal)
            ?? Array(pathPart.utf8).withUnsafeBufferPointer(isNormal)
        if simple { return pathPart }
        let rewritten =
            pathPart.utf8.withContiguousStorageIfAvailable(rewrite)
            ?? Array(pathPart.utf8).withUnsafeBufferPointer(rewrite)
        return Substring(rewritten)
    }

    /// Whether `bytes` (a path without query) is already normal: no `%`, no `//`, no `.` or `..` segment.
    private static func isNormal(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var previous: UInt8 = ASCII.slash  // a relative path's first segment starts at index 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case ASCII.percent:
                return false
            case ASCII.slash where previous == ASCII.slash && index > 0:
                return false
            case ASCII.dot where previous == ASCII.slash:
                // "." or ".." as a whole segment.
                var next = index + 1
                if next < bytes.count && bytes[next] == ASCII.dot { next += 1 }
                if next == bytes.count || bytes[next] == ASCII.slash { return false }
            default:
                break
            }
            previous = byte
            index += 1
        }
        return true
    }

    /// Steps 2 to 4 on a path that is not normal.
    private static func rewrite(_ input: UnsafeBufferPointer<UInt8>) -> String {
        // RFC 3986 §6.2.2.1-2: decode unreserved characters, upper-case the hex digits of the rest.
        var decoded: [UInt8] = []
        decoded.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == ASCII.percent, index + 2 < input.count,
                let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2])
            {
                let value = high << 4 | low
                if isUnreserved(value) {
                    decoded.append(value)
                } else {
                    decoded.append(contentsOf: [ASCII.percent, upperHexDigit(high), upperHexDigit(low)])
                }
                index += 3
            } else {
                decoded.append(byte)
                index += 1
            }
        }

        // RFC 3986 §5.2.4 with empty segments dropped (merged slashes). Each kept segment is written as "/" and
        // its bytes; `starts` remembers where each one begins so that ".." can remove the last.
        let rooted = decoded.first == ASCII.slash
        var output: [UInt8] = []
        output.reserveCapacity(decoded.count + 1)
        var starts: [Int] = []
        var start = rooted ? 1 : 0
        var endsWithSlash = false
        while true {
            var end = start
            while end < decoded.count && decoded[end] != ASCII.slash { end += 1 }
            let length = end - start
            let isDot = length == 1 && decoded[start] == ASCII.dot
            let isDotDot = length == 2 && decoded[start] == ASCII.dot && decoded[start + 1] == ASCII.dot
            if isDotDot {
                // Above the root there is nothing to remove: the path stays at the root.
                if let last = starts.popLast() { output.removeSubrange(last...) }
            } else if length > 0 && !isDot {
                starts.append(output.count)
                output.append(ASCII.slash)
                output.append(contentsOf: decoded[start..<end])
            }
            if end == decoded.count {
                endsWithSlash = length == 0 || isDot || isDotDot
                break
            }
            start = end + 1
        }
        if endsWithSlash || output.isEmpty { output.append(ASCII.slash) }
        if !rooted { output.removeFirst() }
        return String(decoding: output, as: UTF8.self)
    }

    /// RFC 3986 §2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), ASCII.dot, UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// The value of a hex digit, either case (RFC 3986 §2.1).
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func upperHexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    private enum ASCII {
        static let slash = UInt8(ascii: "/")
        static let dot = UInt8(ascii: ".")
        static let percent = UInt8(ascii: "%")
        static let question = UInt8(ascii: "?")
    }
}
