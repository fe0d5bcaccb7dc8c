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
        var hasher = SHA256()
        Self.update(&hasher, string: request.head.method.rawValue)
        Self.update(&hasher, string: request.head.path ?? "")
        Self.update(&hasher, length: headers.count)
        for name in headers {
            Self.update(&hasher, string: name.canonicalName)
            let values = request.head.headerFields[values: name]
            Self.update(&hasher, length: values.count)
            for value in values { Self.update(&hasher, string: value) }
        }
        Self.update(&hasher, length: request.body.count)
        request.body.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        bytes = Array(hasher.finalize())
    }

    static func update(_ hasher: inout SHA256, length: Int) {
        withUnsafeBytes(of: UInt64(length).bigEndian) { hasher.update(bufferPointer: $0) }
    }

    static func update(_ hasher: inout SHA256, string: String) {
        var string = string
        string.withUTF8 { utf8 in
            update(&hasher, length: utf8.count)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(utf8))
        }
    }
}
