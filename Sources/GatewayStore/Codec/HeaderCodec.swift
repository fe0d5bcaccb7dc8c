/// The compact binary form of a stored response's header fields (the `headers` column).
///
/// Layout: a format byte (`1`), the field count as an unsigned LEB128 varint, then per field the name and the value,
/// each as a varint byte length followed by that many UTF-8 bytes. Order and duplicates are kept. Typical responses
/// cost two bytes of framing per field instead of JSON's quotes, colons and escapes.
enum HeaderCodec {
    static let formatVersion: UInt8 = 1

    static func encode(_ fields: [StoredResponse.Field]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(8) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        out.append(formatVersion)
        appendVarint(UInt64(fields.count), to: &out)
        for field in fields {
            appendString(field.name, to: &out)
            appendString(field.value, to: &out)
        }
        return out
    }

    /// Decodes ``encode(_:)``'s output. Throws ``KeyStoreError/corrupt(_:)`` on anything else: an unknown format
    /// byte, a length past the end, invalid UTF-8 or trailing bytes.
    static func decode(_ bytes: [UInt8]) throws(KeyStoreError) -> [StoredResponse.Field] {
        var reader = Reader(bytes: bytes)
        guard let format = reader.byte(), format == formatVersion else {
            throw .corrupt("header block: unknown format")
        }
        let count = try reader.varint()
        // Each field needs at least two length bytes, so a count beyond that is a lie; checking it first keeps a
        // corrupt count from reserving huge memory.
        guard count <= UInt64(reader.remaining / 2) else { throw .corrupt("header block: field count \(count)") }
        var fields: [StoredResponse.Field] = []
        fields.reserveCapacity(Int(count))
        for _ in 0..<count {
            let name = try reader.string()
            let value = try reader.string()
            fields.append(StoredResponse.Field(name: name, value: value))
        }
        guard reader.remaining == 0 else { throw .corrupt("header block: \(reader.remaining) trailing bytes") }
        return fields
    }

    private static func appendString(_ string: String, to out: inout [UInt8]) {
        let utf8 = string.utf8
        appendVarint(UInt64(utf8.count), to: &out)
        out.append(contentsOf: utf8)
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var remaining: Int { bytes.count - offset }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func varint() throws(KeyStoreError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard let byte = byte() else { throw .corrupt("header block: truncated length") }
                guard shift < 63 || (shift == 63 && byte <= 1) else { throw .corrupt("header block: length overflow") }
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }

        mutating func string() throws(KeyStoreError) -> String {
            let length = try varint()
            guard length <= UInt64(remaining) else { throw .corrupt("header block: length \(length) past the end") }
            let end = offset + Int(length)
            guard let string = String(validating: bytes[offset..<end], as: UTF8.self) else {
                throw .corrupt("header block: invalid UTF-8")
            }
            offset = end
            return string
        }
    }
}
