import HTTPTypes

/// Field names that appear in nearly every message, prebuilt: a field line whose name matches one of them byte for
/// byte reuses the prebuilt ``HTTPField/Name`` instead of validating and lower-casing a new string. The name is
/// kept exactly as received (only exact matches are reused), so forwarding stays faithful.
enum KnownFieldNames {
    private static let spellings: [String] = [
        "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Content-Type", "Content-Length",
        "Connection", "Authorization", "Idempotency-Key", "Date", "Server", "Cache-Control", "Transfer-Encoding",
        "Keep-Alive", "Cookie", "Set-Cookie", "ETag", "Location", "Vary", "Last-Modified", "Content-Encoding",
        "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-IP",
        "Origin", "Referer", "Expect", "Pragma", "Upgrade", "TE", "Trailer", "If-None-Match", "If-Modified-Since",
        "If-Match", "Retry-After", "Expires", "Age", "Access-Control-Allow-Origin", "Strict-Transport-Security",
    ]

    /// Known names by length; each entry is the name's bytes and the prebuilt name.
    private static let byLength: [[(bytes: [UInt8], name: HTTPField.Name)]] = {
        var table = [[(bytes: [UInt8], name: HTTPField.Name)]](repeating: [], count: 32)
        for spelling in spellings {
            // The usual capitalisation and the all-lower-case one (HTTP/2-minded clients send that).
            for form in Set([spelling, spelling.lowercased()]) {
                guard let name = HTTPField.Name(form), form.utf8.count < table.count else { continue }
                table[form.utf8.count].append((Array(form.utf8), name))
            }
        }
        return table
    }()

    /// The prebuilt name spelled exactly as `bytes`, if there is one.
    @inline(__always)
    static func name(_ bytes: UnsafeBufferPointer<UInt8>) -> HTTPField.Name? {
        guard bytes.count < byLength.count else { return nil }
        for candidate in byLength[bytes.count] where candidate.bytes.first == bytes.first {
            if candidate.bytes.withUnsafeBufferPointer({ $0.elementsEqual(bytes) }) { return candidate.name }
        }
        return nil
    }
}

/// Field values common enough to keep prebuilt: a value longer than 15 bytes would otherwise need a heap-allocated
/// `String` for every message that carries it (`application/json` is 16).
enum KnownFieldValues {
    private static let values: [(bytes: [UInt8], value: String)] = [
        "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
        "text/plain; charset=utf-8", "text/html; charset=utf-8", "gzip, deflate, br", "gzip, deflate",
    ].map { (Array($0.utf8), $0) }

    /// The prebuilt value spelled exactly as `bytes`, if there is one (only values over 15 bytes are listed).
    @inline(__always)
    static func value(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.count > 15 else { return nil }
        for candidate in values where candidate.bytes.count == bytes.count {
            if candidate.bytes.withUnsafeBufferPointer({ $0.elementsEqual(bytes) }) { return candidate.value }
        }
        return nil
    }
}
