import Crypto
import HTTPTypes

/// Computes a record's scope: the hex SHA-256 of the configured request headers (default `Authorization`), so
/// that keys of different principals never collide and credentials are never stored or logged in clear
/// (draft-ietf-httpapi-idempotency-key-header-07 §5, "composite lookup key").
///
/// Each present header contributes its canonical name and its values, length-prefixed like
/// ``RequestFingerprint``. When none of the headers is present the scope is the empty string: such requests
/// share one scope.
public struct ScopeHasher: Sendable {
    public let headers: [HTTPField.Name]

    public init(headers: [HTTPField.Name]) { self.headers = headers }

    /// The scope of a request with these fields.
    public func scope(of fields: HTTPFields) -> String {
        // Most requests of an unauthenticated API carry none of the headers: nothing to hash then.
        guard fields.contains(where: { field in headers.contains(field.name) }) else { return "" }
        var input = LengthPrefixedBytes()
        for name in headers {
            let values = fields[values: name]
            guard !values.isEmpty else { continue }
            input.append(name.canonicalName)
            input.append(length: values.count)
            for value in values { input.append(value) }
        }
        return Hex.encode(SHA256.hash(data: input.bytes))
    }
}

/// Lower-case hexadecimal encoding.
enum Hex {
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
