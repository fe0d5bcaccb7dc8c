import Crypto
#if canImport(Glibc)
import Glibc
#endif
import GatewayHTTP
import HTTPTypes

/// The SHA-256 fingerprint of a request (draft-ietf-httpapi-idempotency-key-header-07 §2.4): the same key with a
/// different fingerprint is a misuse answered with `422`.
///
/// Hashed, in this order, each part prefixed with its length as a 64-bit big-endian integer so that no two
/// different requests concatenate to the same input: the method, the path with query, for every configured
/// header its name and each of its values (a count first), and the body. The body is hashed as received (no
/// JSON normalisation): a client must retry with the same bytes.
public struct RequestFingerprint: Sendable, Hashable {
    /// The 32-byte digest.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Fingerprints `request` using the fields in `headers`.
    public init(_ request: GatewayRequest, headers: [HTTPField.Name]) {
        bytes = FingerprintInput(request, headers: headers).digest()
    }
}

/// What a ``RequestFingerprint`` hashes: the length-prefixed method, path, configured headers and body length
/// (`prefix`), then the body.
///
/// Kept apart from the digest so that a retry answered from the hot cache is checked by comparing these bytes
/// with the original request's (exact, and cheaper than SHA-256), when they were small enough to keep.
struct FingerprintInput {
    let prefix: [UInt8]
    let body: [UInt8]
    /// Inputs up to this size (prefix and body) are kept in the hot cache for exact comparison.
    static let keepLimit = 4096

    /// Borrows the request (an initialiser would otherwise take it owned, copying a caller's `consuming` one).
    init(_ request: borrowing GatewayRequest, headers: [HTTPField.Name]) {
        var prefix = LengthPrefixedBytes()
        prefix.append(request.head.method.rawValue)
        prefix.append(request.head.path ?? "")
        prefix.append(length: headers.count)
        for name in headers {
            prefix.append(name.canonicalName)
            var count = 0
            for field in request.head.headerFields where field.name == name { count += 1 }
            prefix.append(length: count)
            if count > 0 {
                for field in request.head.headerFields where field.name == name { prefix.append(field.value) }
            }
        }
        prefix.append(length: request.body.count)
        self.prefix = prefix.bytes
        self.body = request.body
    }

    /// The SHA-256 digest (32 bytes). The prefix and the body go in as two updates: each update of
    /// swift-crypto's SHA-256 has a fixed cost that would otherwise be paid per part.
    func digest() -> [UInt8] {
        var hasher = SHA256()
        prefix.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        body.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return Array(hasher.finalize())
    }

    /// The whole input in one buffer, when it is small enough to keep.
    var kept: [UInt8]? {
        guard prefix.count + body.count <= Self.keepLimit else { return nil }
        return prefix + body
    }

    /// Whether `kept` (an earlier request's ``kept``) is this input, byte for byte.
    func matches(_ kept: [UInt8]) -> Bool {
        guard kept.count == prefix.count + body.count else { return false }
        return kept.withUnsafeBytes { all in
            prefix.withUnsafeBytes { head in
                body.withUnsafeBytes { tail in
                    (head.isEmpty || memcmp(all.baseAddress!, head.baseAddress!, head.count) == 0)
                        && (tail.isEmpty || memcmp(all.baseAddress! + head.count, tail.baseAddress!, tail.count) == 0)
                }
            }
        }
    }
}

/// Parts of a hash input, each prefixed with its length as a 64-bit big-endian integer.
struct LengthPrefixedBytes {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    mutating func append(length: Int) {
        withUnsafeBytes(of: UInt64(length).bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ string: String) {
        var string = string
        string.withUTF8 { utf8 in
            append(length: utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }
}
