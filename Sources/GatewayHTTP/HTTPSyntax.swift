/// Byte classes and small scanners from RFC 9110 §5.6 and RFC 9112, shared by the decoders.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C
    static let equals: UInt8 = 0x3D
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
}

/// RFC 9110 §5.6.2: `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
@inline(__always)
func isTokenChar(_ byte: UInt8) -> Bool {
    // One bit per byte value: DIGIT, ALPHA and "!#$%&'*+-.^_`|~" (the bits of 0x00-0x3F, then of 0x40-0x7F;
    // nothing from 0x80 up). A shift and a mask instead of a chain of comparisons, on every byte of every name.
    let bits: UInt64 = byte < 0x40 ? 0x03FF_6CFA_0000_0000 : 0x57FF_FFFF_C7FF_FFFE
    return byte < 0x80 && (bits >> UInt64(byte & 0x3F)) & 1 == 1
}

/// RFC 9110 §5.5: `field-vchar = VCHAR / obs-text`, plus SP and HTAB inside a value.
@inline(__always)
func isFieldValueChar(_ byte: UInt8) -> Bool {
    byte >= 0x20 ? byte != 0x7F : byte == ASCII.tab
}

/// RFC 9110 §5.6.3: `OWS = *( SP / HTAB )`.
@inline(__always)
func isWhitespace(_ byte: UInt8) -> Bool {
    byte == ASCII.space || byte == ASCII.tab
}

/// Hex digit value, or nil.
@inline(__always)
func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: Int(byte &- 0x30)
    case 0x41...0x46: Int(byte &- 0x41 &+ 10)
    case 0x61...0x66: Int(byte &- 0x61 &+ 10)
    default: nil
    }
}

/// A half-open range of bytes in a buffer, as offsets.
struct ByteRange: Sendable, Equatable {
    var start: Int
    var end: Int
    var count: Int { end - start }
    var isEmpty: Bool { start == end }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether `range` equals `lowercase` ignoring ASCII case. `lowercase` must contain only lowercase
    /// letters, digits and "-", and the bytes in `range` must already be valid token characters.
    @inline(__always)
    func equalsToken(_ range: ByteRange, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let other = lowercase.utf8Start
        for offset in 0..<range.count where self[range.start + offset] | 0x20 != other[offset] {
            return false
        }
        return true
    }

    /// Whether `range` (any bytes) equals `lowercase` ignoring ASCII letter case.
    @inline(__always)
    func equalsCaseInsensitive(_ range: ByteRange, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let other = lowercase.utf8Start
        for offset in 0..<range.count {
            var byte = self[range.start + offset]
            if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
            if byte != other[offset] { return false }
        }
        return true
    }

    /// `range` with OWS removed from both ends.
    @inline(__always)
    func trimmingWhitespace(_ range: ByteRange) -> ByteRange {
        var start = range.start
        var end = range.end
        while start < end && isWhitespace(self[start]) { start += 1 }
        while end > start && isWhitespace(self[end - 1]) { end -= 1 }
        return ByteRange(start: start, end: end)
    }

    /// The bytes of `range` as a String (UTF-8 decoding, invalid sequences repaired).
    @inline(__always)
    func string(_ range: ByteRange) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: self[range.start..<range.end]), as: UTF8.self)
    }

    /// Splits a comma-separated list (RFC 9110 §5.6.1) into OWS-trimmed elements, calling `body` on each.
    /// Returns false as soon as `body` does.
    @inline(__always)
    func forEachListElement(_ range: ByteRange, _ body: (ByteRange) -> Bool) -> Bool {
        var start = range.start
        var index = range.start
        while index <= range.end {
            if index == range.end || self[index] == ASCII.comma {
                if !body(trimmingWhitespace(ByteRange(start: start, end: index))) { return false }
                start = index + 1
            }
            index += 1
        }
        return true
    }
}
