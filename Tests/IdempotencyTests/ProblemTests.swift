import Foundation
import GatewayHTTP
import HTTPTypes
import Idempotency
import Testing

/// Decodes a problem body as JSON.
func problemJSON(_ response: GatewayResponse) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(response.body))
    return try #require(object as? [String: Any])
}

@Suite("Problem details")
struct ProblemTests {
    @Test(arguments: Problem.Kind.allCases)
    func everyKindIsValidRFC9457(kind: Problem.Kind) throws {
        let response = Problem(kind, detail: #"quote " backslash \ newline \#n tab \#t bell \#u{07} é"#)
            .response(documentationBaseURL: "https://docs.example/#")
        #expect(response.header(.contentType) == "application/problem+json")
        #expect(response.header(.contentLanguage) == "en")
        #expect(response.header(.cacheControl) == "no-store")
        let json = try problemJSON(response)
        #expect(json["type"] as? String == "https://docs.example/#" + kind.anchor)
        #expect(json["title"] as? String == kind.title)
        #expect(json["status"] as? Int == response.head.status.code)
        #expect(json["detail"] as? String == #"quote " backslash \ newline \#n tab \#t bell \#u{07} é"#)
    }

    @Test func statuses() {
        #expect(Problem.Kind.missingKey.status.code == 400)
        #expect(Problem.Kind.invalidKey.status.code == 400)
        #expect(Problem.Kind.keyInFlight.status.code == 409)
        #expect(Problem.Kind.keyMismatch.status.code == 422)
        #expect(Problem.Kind.storeUnavailable.status.code == 503)
        #expect(Problem.Kind.upstreamUnreachable.status.code == 502)
        #expect(Problem.Kind.upstreamTimeout.status.code == 504)
    }

    @Test func defaultTypeURIsPointAtTheReadme() {
        #expect(
            Problem.typeURI(.missingKey, documentationBaseURL: IdempotencyConfiguration.defaultDocumentationBaseURL)
                == "https://github.com/idempotency-gateway/idempotency-gateway/blob/main/README.md#problem-missing-key")
    }
}
