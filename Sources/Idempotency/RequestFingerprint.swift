import Crypto
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
        // The parts before the body are laid out in one buffer and hashed with the body in two updates: each
        // update of swift-crypto's SHA-256 has a fixed cost that would otherwise be paid per part.
        var prefix = LengthPrefixedBytes()
        prefix.append(request.head.method.rawValue)
        prefix.append(request.head.path ?? "")
        prefix.append(length: headers.count)
        for name in headers {
            prefix.append(name.canonicalName)
            let values = request.head.headerFields[values: name]
            prefix.append(length: values.count)
            for value in values { prefix.append(value) }
        }
        prefix.append(length: request.body.count)
        var hasher = SHA256()
        prefix.bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        request.body.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        bytes = Array(hasher.finalize())
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
