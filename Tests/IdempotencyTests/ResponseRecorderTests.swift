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

    /// RFC 9110 §7.6.1: hop-by-hop fields describe the connection a response came on; they are never stored, even
    /// when the configured list (which replaces its default, `Set-Cookie`) does not name them. An in-process handler
    /// may send them; the reverse proxy removes them before the engine sees the response.
    @Test(arguments: [[], [HTTPField.Name.setCookie]])
    func hopByHopFieldsAreNeverStored(dropped: [HTTPField.Name]) throws {
        var fields = HTTPFields()
        for (name, value) in [
            ("Keep-Alive", "timeout=5"), ("Upgrade", "h2c"), ("TE", "trailers"), ("Trailer", "X-Sum"),
            ("Proxy-Authenticate", "Basic"), ("Connection", "X-Conn-Only"), ("X-Conn-Only", "1"),
            ("Content-Type", "application/json"), ("X-Kept", "yes"),
        ] {
            fields.append(HTTPField(name: try #require(HTTPField.Name(name)), value: value))
        }
        let recorder = ResponseRecorder(droppedResponseHeaders: dropped, maxBodyBytes: 1024)
        let stored = recorder.storable(GatewayResponse(status: .created, headerFields: fields, body: [1])).stored
        #expect(stored.fields.map(\.name) == ["Content-Type", "X-Kept"])
        let replay = recorder.replay(stored).head.headerFields
        #expect(replay[HTTPField.Name("Keep-Alive")!] == nil && replay[.upgrade] == nil)
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
