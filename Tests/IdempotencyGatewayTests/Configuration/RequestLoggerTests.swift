import Idempotency
import Testing

@testable import IdempotencyGateway

/// The access log hashes a key's value, as the engine's own log lines do, so their lines correlate.
@Suite("Access log key digest")
struct RequestLoggerTests {
    @Test func quotedAndBareFormsOfAKeyHashAlike() {
        let expected = KeyDigest.short("abc-123")
        for value in ["abc-123", "\"abc-123\"", "  \"abc-123\"\t", " abc-123 "] {
            #expect(RequestLogger.keyDigest(value) == expected, "\(value.debugDescription)")
        }
        // An escape is decoded first (sf-string, RFC 9651 §3.3.3).
        #expect(RequestLogger.keyDigest(#""a\\b""#) == KeyDigest.short(#"a\b"#))
        // An invalid value is hashed as sent.
        #expect(RequestLogger.keyDigest("\"abc") == KeyDigest.short("\"abc"))
    }
}
