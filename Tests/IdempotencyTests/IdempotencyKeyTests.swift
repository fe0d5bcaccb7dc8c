import HTTPTypes
import Idempotency
import Testing

@Suite("Idempotency-Key parsing")
struct IdempotencyKeyTests {
    @Test(
        "valid keys",
        arguments: [
            (#""abc""#, "abc"),
            ("abc", "abc"),
            (#"  "abc"  "#, "abc"),
            ("  abc ", "abc"),
            (#""8e03978e-40d5-43e8-bc93-6894a57f9324""#, "8e03978e-40d5-43e8-bc93-6894a57f9324"),
            ("KG5LxwFBepaKHyUD", "KG5LxwFBepaKHyUD"),
            (#""with space""#, "with space"),
            (#""q\"uote""#, #"q"uote"#),
            (#""back\\slash""#, #"back\slash"#),
            ("a;b=c", "a;b=c"),
            ("!#$%&'()*+-./:<=>?@[]^_`{|}~", "!#$%&'()*+-./:<=>?@[]^_`{|}~"),
            ("x", "x"),
        ])
    func valid(input: String, expected: String) throws {
        let key = try IdempotencyKey.parse(input)
        #expect(key.value == expected)
    }

    @Test(
        "invalid keys",
        arguments: [
            ("", IdempotencyKey.Failure.empty),
            ("   ", .empty),
            (#""""#, .empty),
            (#""abc"#, .malformedString),
            (#""ab\c""#, .malformedString),
            (#""abc"x"#, .malformedString),
            (#""abc";p=1"#, .parameters),
            (#""a", "b""#, .list),
            ("a,b", .list),
            ("a, b", .list),
            ("ab c", .invalidCharacter(0x20)),
            ("ab\"c", .invalidCharacter(0x22)),
            ("ab\u{7F}c", .invalidCharacter(0x7F)),
            ("ab\tc", .invalidCharacter(0x09)),
            ("clé", .nonASCII),
            ("\"clé\"", .nonASCII),
            (String(repeating: "k", count: 256), .tooLong(length: 256, limit: 255)),
            ("\"" + String(repeating: "k", count: 256) + "\"", .tooLong(length: 256, limit: 255)),
        ])
    func invalid(input: String, expected: IdempotencyKey.Failure) {
        #expect(throws: expected) { try IdempotencyKey.parse(input) }
    }

    @Test func lengthLimitsAreInclusive() throws {
        #expect(try IdempotencyKey.parse(String(repeating: "k", count: 255)).value.count == 255)
        #expect(throws: IdempotencyKey.Failure.tooLong(length: 11, limit: 10)) {
            try IdempotencyKey.parse("0123456789a", maxLength: 10)
        }
        #expect(try IdempotencyKey.parse("0123456789", maxLength: 10).value == "0123456789")
    }

    @Test func bareAndQuotedFormsAreTheSameKey() throws {
        #expect(try IdempotencyKey.parse("abc") == IdempotencyKey.parse(#""abc""#))
    }

    @Test func headerFieldsAbsentOnceOrTwice() throws {
        var fields = HTTPFields()
        #expect(try IdempotencyKey.parse(fields) == nil)
        fields.append(HTTPField(name: HTTPField.Name("idempotency-key")!, value: "abc"))
        #expect(try IdempotencyKey.parse(fields)?.value == "abc")
        fields.append(HTTPField(name: IdempotencyHeaders.idempotencyKey, value: "abc"))
        #expect(throws: IdempotencyKey.Failure.repeated(count: 2)) { try IdempotencyKey.parse(fields) }
    }

    @Test func failuresExplainThemselves() {
        #expect(IdempotencyKey.Failure.tooLong(length: 300, limit: 255).description.contains("255"))
        #expect(IdempotencyKey.Failure.invalidCharacter(0x20).description.contains("0x20"))
        #expect(IdempotencyKey.Failure.repeated(count: 2).description.contains("2 times"))
    }
}
