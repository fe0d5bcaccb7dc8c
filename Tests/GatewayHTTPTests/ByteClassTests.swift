import Testing

@testable import GatewayHTTP

/// The parser's fast byte classes agree with their definitions for every byte value, wherever it sits.
@Suite("Byte classes")
struct ByteClassTests {
    /// RFC 9110 §5.6.2, written out as the grammar gives it.
    private static let tchars = Set(Array("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8))

    @Test func tokenCharacters() {
        for byte in 0...255 {
            #expect(isTokenChar(UInt8(byte)) == Self.tchars.contains(UInt8(byte)), "byte \(byte)")
        }
    }

    @Test("field values eight bytes at a time: every byte value at every offset of values of every length")
    func fieldValues() {
        for length in [1, 7, 8, 9, 16, 23] {
            for position in 0..<length {
                for byte in 0...255 {
                    var value = [UInt8](repeating: UInt8(ascii: "a"), count: length + 2)
                    value[position + 1] = UInt8(byte)
                    let valid = byte >= 0x20 ? byte != 0x7F : byte == 0x09
                    let checked = value.withUnsafeBufferPointer {
                        FieldLine.allFieldValueChars($0, ByteRange(start: 1, end: length + 1))
                    }
                    if checked != valid { Issue.record("byte \(byte) at \(position) of \(length): \(checked)") }
                }
            }
        }
    }
}
