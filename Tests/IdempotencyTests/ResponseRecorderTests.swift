import GatewayHTTP
import GatewayStore
import HTTPTypes
import Testing

@testable import Idempotency

@Suite("Response recorder")
struct ResponseRecorderTests {
    /// An upstream's answer to a `HEAD`: no body, the `Content-Length` a `GET` would have had.
    static let headAnswer: GatewayResponse = {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = "1234"
        return GatewayResponse(status: .ok, headerFields: fields)
    }()

    static func storesContentLength(_ stored: StoredResponse) -> Bool {
        stored.fields.contains { $0.name.lowercased() == "content-length" }
    }

    /// RFC 9110 §9.3.2: the answer to a `HEAD` keeps its `Content-Length`, and its replay carries it; any other
    /// answer's framing is recomputed, and an operator who drops the field (by name or prefix) drops it for `HEAD` too.
    @Test func theAnswerToHEADKeepsItsContentLengthUnlessTheDroppedFieldsNameIt() throws {
        let recorder = ResponseRecorder(droppedResponseHeaders: [.setCookie], maxBodyBytes: 1024)
        let stored = recorder.storable(Self.headAnswer, toHEAD: true).stored
        #expect(stored.fields.contains(StoredResponse.Field(name: "Content-Length", value: "1234")))
        #expect(recorder.replay(stored).head.headerFields[.contentLength] == "1234")
        #expect(!Self.storesContentLength(recorder.storable(Self.headAnswer).stored))

        for dropped in ["Content-Length", "Content-*"] {
            let name = try #require(HTTPField.Name(dropped))
            let dropping = ResponseRecorder(droppedResponseHeaders: [name], maxBodyBytes: 1024)
            #expect(!Self.storesContentLength(dropping.storable(Self.headAnswer, toHEAD: true).stored), "\(dropped)")
        }
    }
}
