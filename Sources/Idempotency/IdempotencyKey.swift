import HTTPTypes
import RawStructuredFieldValues

/// A validated `Idempotency-Key` value.
///
/// Accepted forms (draft-ietf-httpapi-idempotency-key-header-07 §2.1 and common practice):
/// - the draft's Item whose bare item is an sf-string (RFC 9651 §3.3.3), e.g. `"8e03978e-40d5"`, without
///   parameters; escapes (`\"`, `\\`) are decoded;
/// - a bare token of visible ASCII other than `"` and `,` (0x21–0x7E), as Stripe clients and `curl` send it,
///   e.g. `8e03978e-40d5`.
///
/// `abc` and `"abc"` therefore name the same key. Surrounding spaces are ignored. The decoded key must be 1 to
/// `maxLength` characters long. A header sent twice, as two fields or as a comma-combined list, is rejected.
public struct IdempotencyKey: Sendable, Hashable, CustomStringConvertible {
    /// The decoded key (ASCII, without the quotes of the sf-string form).
    public let value: String

    public init(unchecked value: String) { self.value = value }

    public var description: String { value }

    /// Why a key was rejected; the ``description`` becomes the `detail` of the 400 problem.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// The field value is empty (or only spaces), or the sf-string is `""`.
        case empty
        /// The decoded key is longer than the limit.
        case tooLong(length: Int, limit: Int)
        /// The header was sent more than once (`count` fields).
        case repeated(count: Int)
        /// A comma outside an sf-string: a comma-combined list of several keys.
        case list
        /// A byte outside ASCII (≥ 0x80).
        case nonASCII
        /// A control character, space or `"` inside a bare key.
        case invalidCharacter(UInt8)
        /// The value starts with `"` but is not a valid sf-string Item (unbalanced quote, bad escape,
        /// trailing junk).
        case malformedString
        /// The sf-string carries parameters (`"abc";p=1`), which the draft does not define.
        case parameters

        public var description: String {
            switch self {
            case .empty: "The Idempotency-Key header is empty."
            case .tooLong(let length, let limit):
                "The Idempotency-Key is \(length) characters long; at most \(limit) are allowed."
            case .repeated(let count):
                "The Idempotency-Key header was sent \(count) times; send it exactly once."
            case .list: "The Idempotency-Key header holds a comma-separated list; send exactly one key."
            case .nonASCII: "The Idempotency-Key must consist of ASCII characters."
            case .invalidCharacter(let byte):
                "The Idempotency-Key contains the invalid character 0x\(String(byte, radix: 16, uppercase: true)); "
                    + "use visible ASCII or a quoted sf-string."
            case .malformedString:
                "The Idempotency-Key is not a valid structured-field string (RFC 9651 §3.3.3): "
                    + "check quotes and escapes."
            case .parameters: "The Idempotency-Key must not carry structured-field parameters."
            }
        }
    }

    /// Parses the `Idempotency-Key` fields of a request.
    /// - Returns: `nil` when the header is absent.
    /// - Throws: ``Failure`` when it is present but invalid.
    public static func parse(_ fields: HTTPFields, maxLength: Int = 255) throws(Failure) -> IdempotencyKey? {
        // One pass, no array of values: the field is usually there exactly once.
        var value: String?
        var count = 0
        let name = IdempotencyHeaders.idempotencyKey
        for field in fields where field.name == name {
            if count == 0 { value = field.value }
            count += 1
        }
        guard let value else { return nil }
        guard count == 1 else { throw .repeated(count: count) }
        return try parse(value, maxLength: maxLength)
    }

    /// The key a field value names when it is valid, else the value as sent: what logs hash and what the admin API
    /// looks up, so that `abc` and `"abc"` name the same record there too.
    public static func value(of fieldValue: String) -> String {
        (try? parse(fieldValue, maxLength: Int.max))?.value ?? fieldValue
    }

    /// Parses one field value.
    public static func parse(_ fieldValue: String, maxLength: Int = 255) throws(Failure) -> IdempotencyKey {
        // Read from the value's own bytes, not a copy (a field value is a native, contiguous string).
        var value = fieldValue
        return try value.withUTF8 { bytes in
            Result { () throws(Failure) in try parse(bytes: bytes, maxLength: maxLength) }
        }.get()
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>, maxLength: Int) throws(Failure) -> IdempotencyKey {
        // Surrounding whitespace (RFC 9110 §5.5 OWS; RFC 9651 §4.2 strips leading/trailing SP).
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        let trimmed = UnsafeBufferPointer(rebasing: bytes[start..<end])
        guard let first = trimmed.first else { throw .empty }
        if trimmed.contains(where: { $0 >= 0x80 }) { throw .nonASCII }

        let key: String
        if first == UInt8(ascii: "\"") {
            key = try parseString(trimmed)
        } else {
            // Bare form: visible ASCII without DQUOTE; a comma means a combined list (RFC 9110 §5.3).
            for byte in trimmed {
                if byte == UInt8(ascii: ",") { throw .list }
                guard byte >= 0x21, byte <= 0x7E, byte != UInt8(ascii: "\"") else { throw .invalidCharacter(byte) }
            }
            key = String(decoding: trimmed, as: UTF8.self)
        }
        let length = key.utf8.count
        guard length > 0 else { throw .empty }
        guard length <= maxLength else { throw .tooLong(length: length, limit: maxLength) }
        return IdempotencyKey(unchecked: key)
    }

    /// The draft's form: an Item whose bare item is an sf-string and which has no parameters (§2.1).
    private static func parseString(_ bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> String {
        if let simple = simpleString(bytes) { return simple }
        let item: Item
        do {
            var parser = StructuredFieldValueParser(bytes)
            item = try parser.parseItemFieldValue()
        } catch {
            // A valid first item followed by `,` is a list: several keys in one field.
            if isList(bytes) { throw .list }
            throw .malformedString
        }
        guard case .string(let string) = item.rfc9651BareItem else { throw .malformedString }
        guard item.rfc9651Parameters.count == 0 else { throw .parameters }
        return string
    }

    /// The common case without the general parser (it is on every request's path): `"` + only RFC 9651 §3.3.3
    /// `unescaped` characters (%x20-21 / %x23-5B / %x5D-7E) + `"`, nothing after. Anything else (escapes,
    /// parameters, trailing characters) returns nil and goes through the structured-field parser.
    private static func simpleString(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.count >= 2, bytes.last == UInt8(ascii: "\"") else { return nil }
        let inner = UnsafeBufferPointer(rebasing: bytes[1..<(bytes.count - 1)])
        for byte in inner {
            guard byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") else { return nil }
        }
        return String(decoding: inner, as: UTF8.self)
    }

    /// Whether `bytes` parse as an sf-list of more than one member (e.g. `"a", "b"`).
    private static func isList(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var parser = StructuredFieldValueParser(bytes)
        guard let list = try? parser.parseListFieldValue() else { return false }
        return list.count > 1
    }
}
