import GatewayHTTP
import HTTPTypes
import Testing

private func response(_ text: String) -> [UInt8] { latin1Bytes(text) }

@Suite("Response decoder")
struct ResponseDecoderTests {
    @Test("Content-Length, chunked and close-delimited bodies (RFC 9112 §6.3)")
    func framings() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
            + "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ndef\r\n0\r\nT: 1\r\n\r\n"
            + "HTTP/1.1 200 \r\n\r\nuntil close"
        let run = decodeResponses(response(text), methods: [.get, .post, .get], finish: true)
        #expect(run.error == nil)
        #expect(run.messages.map(\.status) == [200, 201, 200])
        #expect(run.messages.map(\.framing) == [.contentLength(3), .chunked, .untilClose])
        #expect(run.messages.map(\.keepAlive) == [true, true, false])
        #expect(run.messages.map { String(decoding: $0.body, as: UTF8.self) } == ["abc", "def", "until close"])
        #expect(run.messages[1].trailers == [["T", "1"]])
        #expect(run.messages[2].reason == "")
        #expect(decodeResponses(response(text), methods: [.get, .post, .get], chunkSize: 1, finish: true) == run)
    }

    @Test("No body for HEAD, 1xx, 204 and 304 (RFC 9112 §6.3 rule 1)")
    func noBody() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\n\r\n"
            + "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"
            + "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let run = decodeResponses(response(text), methods: [.head, .get, .get, .post])
        #expect(run.error == nil)
        #expect(run.messages.map(\.status) == [200, 204, 304, 100, 103, 200])
        #expect(run.messages.map(\.informational) == [false, false, false, true, true, false])
        #expect(run.messages.last?.body == Array("ok".utf8))
        #expect(!run.incomplete)
    }

    @Test("HTTP/1.0 responses are close-delimited unless keep-alive with a length")
    func http10() {
        let closed = decodeResponses(response("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"))
        #expect(closed.messages.first?.keepAlive == false)
        let kept = decodeResponses(response("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"))
        #expect(kept.messages.first?.keepAlive == true)
        let close11 = decodeResponses(response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"))
        #expect(close11.messages.first?.keepAlive == false)
    }

    @Test("Invalid responses are 502")
    func invalid() {
        for text in [
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/2.0 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 099 OK\r\n\r\n",
            "HTTP/1.1 200OK\r\n\r\n",
            "HTTP/1.1 200 OK\nX: y\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "http/1.1 200 OK\r\n\r\n",
        ] {
            let run = decodeResponses(response(text))
            #expect(run.error?.status == 502, "\(text.debugDescription)")
        }
    }

    @Test("Reason phrase with obs-text is decoded as ISO Latin 1")
    func obsTextReason() {
        let run = decodeResponses(response("HTTP/1.1 200 \u{C9}t\u{E9}\r\nContent-Length: 0\r\n\r\n"))
        #expect(run.messages.first?.reason == "\u{C9}t\u{E9}")
    }

    @Test("finish(): ends a close-delimited body, fails inside a message, nil when idle")
    func finish() throws {
        var decoder = HTTPResponseDecoder()
        #expect(try decoder.finish() == nil)

        var truncated = HTTPResponseDecoder()
        truncated.append(response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"))
        while try truncated.next() != nil {}
        #expect(throws: HTTPParseError.self) { try truncated.finish() }

        var partialHead = HTTPResponseDecoder()
        partialHead.append(response("HTTP/1.1 200 OK\r\nConte"))
        #expect(try partialHead.next() == nil)
        #expect(throws: HTTPParseError.self) { try partialHead.finish() }

        var closeDelimited = HTTPResponseDecoder()
        closeDelimited.append(response("HTTP/1.1 200 OK\r\n\r\nbody"))
        guard case .head(let head) = try closeDelimited.next() else { Issue.record("expected head"); return }
        #expect(head.framing == .untilClose)
        guard case .body = try closeDelimited.next() else { Issue.record("expected body"); return }
        guard case .end = try closeDelimited.finish() else { Issue.record("expected end"); return }
        #expect(try closeDelimited.finish() == nil)
    }
}

extension ResponseEvent: Equatable {
    public static func == (lhs: ResponseEvent, rhs: ResponseEvent) -> Bool {
        switch (lhs, rhs) {
        case (.body(let a), .body(let b)): a == b
        case (.end(let a), .end(let b)): a == b
        case (.informational(let a), .informational(let b)): a == b
        case (.head(let a), .head(let b)): a.response == b.response && a.framing == b.framing && a.keepAlive == b.keepAlive
        default: false
        }
    }
}
