import HTTPTypes

/// One parsed field line (RFC 9112 §5): `field-name ":" OWS field-value OWS`.
struct FieldLine: Sendable {
    var name: ByteRange
    var value: ByteRange

    /// Parses the field line at `line`. Strict: obs-fold (a line starting with SP/HTAB, RFC 9112 §5.2),
    /// whitespace before the colon (RFC 9112 §5.1), a name that is not a token, or a value containing
    /// NUL, CTLs other than HTAB, or DEL (RFC 9110 §5.5) all fail with `400`. obs-text is allowed.
    @inline(__always)
    static func parse(
        _ head: UnsafeBufferPointer<UInt8>, _ line: ByteRange, statuses: ErrorStatuses
    ) throws(HTTPParseError) -> FieldLine {
        var index = line.start
        if isWhitespace(head[index]) { throw statuses.bad("obsolete line folding") }
        while index < line.end && isTokenChar(head[index]) { index += 1 }
        guard index < line.end, head[index] == ASCII.colon else {
            if index < line.end && isWhitespace(head[index]) {
                throw statuses.bad("whitespace between field name and colon")
            }
            throw statuses.bad(index == line.end ? "field line without colon" : "invalid character in field name")
        }
        guard index > line.start else { throw statuses.bad("empty field name") }
        let name = ByteRange(start: line.start, end: index)
        let value = head.trimmingWhitespace(ByteRange(start: index + 1, end: line.end))
        guard allFieldValueChars(head, value) else { throw statuses.bad("invalid character in field value") }
        return FieldLine(name: name, value: value)
    }

    /// Whether every byte of `range` is allowed in a field value (``isFieldValueChar(_:)``), eight bytes at a time
    /// while no byte in them is below 0x20 or equal to 0x7F (the bytes of a word that has one, and the tail, are
    /// looked at one by one: HTAB is allowed).
    @inline(__always)
    static func allFieldValueChars(_ head: UnsafeBufferPointer<UInt8>, _ range: ByteRange) -> Bool {
        guard let base = head.baseAddress else { return range.isEmpty }
        var index = range.start
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        while range.end - index >= 8 {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            // A byte below 0x20: its subtraction borrows into a high bit the byte did not have (exact when no
            // byte is); a byte equal to 0x7F: the same test for zero after XOR with 0x7F.
            let control = (word &- 0x20 &* ones) & ~word & highBits
            let deleted = word ^ (0x7F &* ones)
            if control | ((deleted &- ones) & ~deleted & highBits) != 0 { break }
            index += 8
        }
        while index < range.end {
            if !isFieldValueChar(base[index]) { return false }
            index += 1
        }
        return true
    }

    /// The field for swift-http-types, name as received.
    @inline(__always)
    func field(_ head: UnsafeBufferPointer<UInt8>, statuses: ErrorStatuses) throws(HTTPParseError) -> HTTPField {
        let nameBytes = UnsafeBufferPointer(rebasing: head[name.start..<name.end])
        guard let fieldName = KnownFieldNames.name(nameBytes) ?? HTTPField.Name(head.string(name)) else {
            throw statuses.bad("invalid field name")
        }
        // parse(_:_:statuses:) already checked every value byte (RFC 9110 §5.5), which is the same rule
        // swift-http-types applies; its initialiser checks once more and keeps the bytes as they are.
        let valueBytes = UnsafeBufferPointer(rebasing: head[value.start..<value.end])
        if let known = KnownFieldValues.value(valueBytes) { return HTTPField(name: fieldName, value: known) }
        if valueBytes.allSatisfy({ $0 < 0x80 }) {
            // ASCII (nearly every value): decoding is exact, and much cheaper than the byte initialiser's
            // `String(validating:)`, which is generic and looks up type metadata on every call.
            return HTTPField(name: fieldName, value: String(decoding: valueBytes, as: UTF8.self))
        }
        // obs-text: the byte initialiser keeps bytes that are not UTF-8 exactly as received.
        return HTTPField(name: fieldName, value: valueBytes)
    }
}
