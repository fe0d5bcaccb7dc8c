import GatewayHTTP
import HTTPTypes
import Testing

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite("Encoder")
struct EncoderTests {
    @Test("A pre-encoded status line and fields give the same head, and any change to the head drops them")
    func preEncodedHead() {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = "12"
        fields.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "1"))
        var response = GatewayResponse(status: .created, headerFields: fields, body: Array("{}".utf8))
        response.encodedHead = HTTPEncoder.encodeStatusAndFields(response.head)
        var appended = HTTPFields()
        appended[HTTPField.Name("X-Request-Id")!] = "abc"
        for version in [HTTPVersion.http1_1, .http1_0] {
            for keepAlive in [true, false] {
                var plain: [UInt8] = []
                var fast: [UInt8] = []
                HTTPEncoder.encodeResponseHead(
                    response.head, version: version, contentLength: 2, chunked: false, keepAlive: keepAlive,
                    appendedFields: appended, into: &plain)
                HTTPEncoder.encodeResponseHead(
                    response.head, version: version, contentLength: 2, chunked: false, keepAlive: keepAlive,
                    appendedFields: appended, encoded: response.encodedHead, into: &fast)
                #expect(fast == plain)
            }
        }
        response.head.headerFields[.contentType] = "text/plain"
        #expect(response.encodedHead == nil)
    }

    @Test("Response head: status line, fields, recomputed framing")
    func responseHead() {
        var fields = HTTPFields()
        fields[.contentType] = "text/plain"
        fields[.contentLength] = "999"
        fields[.transferEncoding] = "gzip"
        fields[.connection] = "upgrade"
        fields.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "1"))
        fields.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "2"))
        var buffer: [UInt8] = []
        HTTPEncoder.encodeResponseHead(
            HTTPResponse(status: .ok, headerFields: fields), version: .http1_1, contentLength: 5, chunked: false,
            keepAlive: true, into: &buffer
        )
        #expect(text(buffer) == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Multi: 1\r\nX-Multi: 2\r\nContent-Length: 5\r\n\r\n")

        buffer.removeAll()
        HTTPEncoder.encodeResponseHead(
            HTTPResponse(status: .init(code: 599)), version: .http1_1, contentLength: nil, chunked: true, keepAlive: false,
            into: &buffer
        )
        #expect(text(buffer) == "HTTP/1.1 599 \r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")

        buffer.removeAll()
        HTTPEncoder.encodeResponseHead(
            HTTPResponse(status: .notFound), version: .http1_0, contentLength: 0, chunked: false, keepAlive: true, into: &buffer
        )
        #expect(text(buffer) == "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test("Request head: origin-form path and Host from authority")
    func requestHead() {
        var fields = HTTPFields()
        fields[HTTPField.Name("Host")!] = "ignored"
        fields[.accept] = "*/*"
        var buffer: [UInt8] = []
        HTTPEncoder.encodeRequestHead(
            HTTPRequest(method: .post, scheme: "http", authority: "up:8080", path: "/a?b", headerFields: fields),
            contentLength: 12, chunked: false, into: &buffer
        )
        #expect(text(buffer) == "POST /a?b HTTP/1.1\r\nHost: up:8080\r\nAccept: */*\r\nContent-Length: 12\r\n\r\n")
    }

    @Test("Chunks round-trip through the request decoder")
    func chunks() throws {
        var buffer = Array("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        HTTPEncoder.encodeChunk(Array(repeating: UInt8(ascii: "a"), count: 300), into: &buffer)
        HTTPEncoder.encodeChunk([UInt8](), into: &buffer)
        HTTPEncoder.encodeChunk("xyz".utf8, into: &buffer)
        HTTPEncoder.encodeLastChunk(into: &buffer)
        #expect(text(buffer).contains("12c\r\n"))
        let run = decodeRequests(buffer)
        #expect(run.error == nil)
        #expect(try #require(run.messages.first).body == Array(repeating: UInt8(ascii: "a"), count: 300) + Array("xyz".utf8))
        #expect(text(HTTPEncoder.continueResponse) == "HTTP/1.1 100 Continue\r\n\r\n")
    }

    @Test("Encoded response heads decode to the same response")
    func responseRoundTrip() throws {
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("X-Obs")!, value: [0x61, 0xE9, 0x62]))
        let original = HTTPResponse(status: .init(code: 201, reasonPhrase: "Made \u{E9}"), headerFields: fields)
        var buffer: [UInt8] = []
        HTTPEncoder.encodeResponseHead(original, version: .http1_1, contentLength: 2, chunked: false, keepAlive: true, into: &buffer)
        buffer += Array("ok".utf8)
        let run = decodeResponses(buffer, methods: [.post])
        let decoded = try #require(run.messages.first)
        #expect(decoded.status == 201)
        #expect(decoded.reason == "Made \u{E9}")
        #expect(decoded.headers == [["X-Obs", "a\u{E9}b"], ["Content-Length", "2"]])
        #expect(decoded.body == Array("ok".utf8))
    }
}
