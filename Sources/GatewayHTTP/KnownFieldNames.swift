import HTTPTypes

#if canImport(Glibc)
import Glibc
#endif

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
///
/// All keys live in one byte array and each bucket lists offsets into it, so that a lookup compares bytes with
/// `memcmp` and copies nothing but the value it returns.
struct ExactBytesTable<Value: Sendable>: Sendable {
    private let keyBytes: [UInt8]
    /// For each length, the (offset in ``keyBytes``, index in ``values``) of the keys of that length.
    private let byLength: [[(offset: Int, value: Int)]]
    private let values: [Value]

    init(_ entries: [(String, Value)]) {
        var table = [[(offset: Int, value: Int)]](repeating: [], count: 64)
        var keyBytes: [UInt8] = []
        var values: [Value] = []
        for (key, value) in entries where key.utf8.count < table.count {
            table[key.utf8.count].append((keyBytes.count, values.count))
            keyBytes.append(contentsOf: key.utf8)
            values.append(value)
        }
        self.keyBytes = keyBytes
        self.byLength = table
        self.values = values
    }

    @inline(__always)
    func value(for bytes: UnsafeBufferPointer<UInt8>) -> Value? {
        let count = bytes.count
        guard count > 0, count < byLength.count, let base = bytes.baseAddress else { return nil }
        let found: Int? = keyBytes.withUnsafeBufferPointer { keys in
            byLength[count].withUnsafeBufferPointer { bucket in
                for candidate in bucket where keys[candidate.offset] == base[0] {
                    if memcmp(keys.baseAddress! + candidate.offset, base, count) == 0 { return candidate.value }
                }
                return nil
            }
        }
        return found.map { values[$0] }
    }
}
