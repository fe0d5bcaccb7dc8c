import HTTPTypes

/// Field names that appear in nearly every message, prebuilt: a field line whose name matches one of them byte for
/// byte reuses the prebuilt ``HTTPField/Name`` instead of validating and lower-casing a new string. The name is
/// kept exactly as received (only exact matches are reused), so forwarding stays faithful.
enum KnownFieldNames {
    private static let table: ExactBytesTable<HTTPField.Name> = {
        let spellings = [
            "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Content-Type", "Content-Length",
            "Connection", "Authorization", "Idempotency-Key", "Date", "Server", "Cache-Control", "Transfer-Encoding",
            "Keep-Alive", "Cookie", "Set-Cookie", "ETag", "Location", "Vary", "Last-Modified", "Content-Encoding",
            "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-IP",
            "Origin", "Referer", "Expect", "Pragma", "Upgrade", "TE", "Trailer", "If-None-Match", "If-Modified-Since",
            "If-Match", "Retry-After", "Expires", "Age", "Access-Control-Allow-Origin", "Strict-Transport-Security",
        ]
        // The usual capitalisation and the all-lower-case one (HTTP/2-minded clients send that).
        let forms = Set(spellings.flatMap { [$0, $0.lowercased()] })
        return ExactBytesTable(forms.compactMap { form in HTTPField.Name(form).map { (form, $0) } })
    }()

    /// The prebuilt name spelled exactly as `bytes`, if there is one.
    @inline(__always)
    static func name(_ bytes: UnsafeBufferPointer<UInt8>) -> HTTPField.Name? { table.value(for: bytes) }
}

/// Field values common enough to keep prebuilt: a value longer than 15 bytes would otherwise need a heap-allocated
/// `String` for every message that carries it (`application/json` is 16).
enum KnownFieldValues {
    private static let table = ExactBytesTable([
        "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
        "text/plain; charset=utf-8", "text/html; charset=utf-8", "gzip, deflate, br", "gzip, deflate",
    ].map { ($0, $0) })

    /// The prebuilt value spelled exactly as `bytes`, if there is one (only values over 15 bytes are listed).
    @inline(__always)
    static func value(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        bytes.count > 15 ? table.value(for: bytes) : nil
    }
}

/// A small table from exact byte strings (up to 63 bytes) to values, bucketed by length.
struct ExactBytesTable<Value: Sendable>: Sendable {
    private let byLength: [[(bytes: [UInt8], value: Value)]]

    init(_ entries: [(String, Value)]) {
        var table = [[(bytes: [UInt8], value: Value)]](repeating: [], count: 64)
        for (key, value) in entries where key.utf8.count < table.count {
            table[key.utf8.count].append((Array(key.utf8), value))
        }
        byLength = table
    }

    @inline(__always)
    func value(for bytes: UnsafeBufferPointer<UInt8>) -> Value? {
        guard bytes.count < byLength.count else { return nil }
        for candidate in byLength[bytes.count] where candidate.bytes.first == bytes.first {
            if candidate.bytes.withUnsafeBufferPointer({ $0.elementsEqual(bytes) }) { return candidate.value }
        }
        return nil
    }
}
