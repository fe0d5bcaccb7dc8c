import GatewayHTTP
import HTTPTypes
import Testing

private func request(_ text: String) -> [UInt8] { latin1Bytes(text) }

/// The status a request is rejected with (nil when accepted), checked all at once and byte by byte.
private func rejection(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
    let whole = decodeRequests(request(text), limits: limits)
    let byteByByte = decodeRequests(request(text), chunkSize: 1, limits: limits)
    #expect(whole == byteByByte, "one byte at a time differs for \(text.debugDescription)")
    return whole.error?.status
}

private func head(_ fields: String, version: String = "HTTP/1.1", line: String = "GET / ") -> String {
    "\(line)\(version)\r\n\(fields)\r\n"
}

@Suite("Request decoder")
struct RequestDecoderTests {
    @Test("Content-Length body, head fields and authority")
    func contentLength() throws {
        let run = decodeRequests(request("POST /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello"))
        #expect(run.error == nil)
        let message = try #require(run.messages.first)
        #expect(message.method == "POST")
        #expect(message.path == "/a?b=1")
        #expect(message.authority == "example.com:8080")
        #expect(message.scheme == nil)
        #expect(message.headers == [["X-A", "1"], ["Content-Length", "5"]])
        #expect(message.framing == .contentLength(5))
        #expect(message.body == Array("hello".utf8))
        #expect(message.keepAlive)
        #expect(!run.incomplete)
    }

    @Test("Field names and values come out exactly as sent, whether or not they are common (prebuilt) ones")
    func namesAndValuesAsSent() throws {
        let run = decodeRequests(request(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\ncontent-type: application/JSON\r\n"
                + "CONTENT-type: text/plain; charset=utf-8\r\nAccept-Encoding: gzip, deflate\r\nContent-Length: 0\r\n\r\n"))
        #expect(run.error == nil)
        let message = try #require(run.messages.first)
        #expect(message.headers == [
            ["Content-Type", "application/json"], ["content-type", "application/JSON"],
            ["CONTENT-type", "text/plain; charset=utf-8"], ["Accept-Encoding", "gzip, deflate"], ["Content-Length", "0"],
        ])
    }

    @Test("Body events deliver the bytes available without waiting for the whole body")
    func streamingBody() throws {
        var decoder = HTTPRequestDecoder()
        decoder.append(request("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"))
        guard case .head = try decoder.next() else { Issue.record("expected head"); return }
        guard case .body(let first) = try decoder.next() else { Issue.record("expected body"); return }
        #expect(first == Array("abc".utf8))
        #expect(try decoder.next() == nil)
        decoder.append(request("defghij"))
        guard case .body(let second) = try decoder.next() else { Issue.record("expected body"); return }
        #expect(second == Array("defghij".utf8))
        guard case .end = try decoder.next() else { Issue.record("expected end"); return }
        #expect(decoder.isIdle)
    }

    @Test("Chunked body with extensions and trailers")
    func chunked() throws {
        let text = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value;quoted=\"a \\\"b\\\"\"\r\nhello\r\n6 ; flag\r\n world\r\n0\r\nChecksum: abc\r\n\r\n"
        let run = decodeRequests(request(text))
        #expect(run.error == nil)
        let message = try #require(run.messages.first)
        #expect(message.framing == .chunked)
        #expect(message.body == Array("hello world".utf8))
        #expect(message.trailers == [["Checksum", "abc"]])
        #expect(decodeRequests(request(text), chunkSize: 1) == run)
        #expect(decodeRequests(request(text), chunkSize: 3) == run)
    }

    @Test("Pipelined requests in one append, and keep-alive rules (RFC 9112 §9.3)")
    func pipelining() {
        let text = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
            + "\r\nGET /3 HTTP/1.0\r\n\r\n"
            + "GET /4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            + "GET /5 HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n"
            + "GET /6 HTTP/1.1\r\nHo"
        let run = decodeRequests(request(text))
        #expect(run.error == nil)
        #expect(run.messages.map(\.path) == ["/1", "/2", "/3", "/4", "/5"])
        #expect(run.messages.map(\.keepAlive) == [true, true, false, true, false])
        #expect(run.messages[1].body == Array("abc".utf8))
        #expect(run.incomplete)
        #expect(decodeRequests(request(text), chunkSize: 1) == run)
    }

    @Test("Many pipelined requests through one decoder (buffer compaction)")
    func manyPipelined() {
        let one = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + String(repeating: "z", count: 100)
        let text = String(repeating: one, count: 500)
        let run = decodeRequests(request(text), chunkSize: 1000)
        #expect(run.error == nil)
        #expect(run.messages.count == 500)
        #expect(run.messages.allSatisfy { $0.body.count == 100 })
        #expect(!run.incomplete)
    }

    @Test("Absolute-form and asterisk-form targets (RFC 9112 §3.2)")
    func targetForms() throws {
        let absolute = try #require(decodeRequests(request("GET HTTP://Example.com:81?q HTTP/1.1\r\nHost: other\r\n\r\n")).messages.first)
        #expect(absolute.scheme == "http")
        #expect(absolute.authority == "Example.com:81")
        #expect(absolute.path == "/?q")
        let asterisk = try #require(decodeRequests(request("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")).messages.first)
        #expect(asterisk.path == "*")
        // An absolute-form OPTIONS without a path asks about the server as a whole: "*" (RFC 9112 §3.2.4); any
        // other method's empty path is "/".
        let server = try #require(decodeRequests(request("OPTIONS http://a:80 HTTP/1.1\r\nHost: a\r\n\r\n")).messages.first)
        #expect(server.path == "*")
        let root = try #require(decodeRequests(request("GET http://a:80 HTTP/1.1\r\nHost: a\r\n\r\n")).messages.first)
        #expect(root.path == "/")
        #expect(rejection("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n") == 501)
        #expect(rejection("GET example.com HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET ftp://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET http://user@example.com/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET http:/// HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
    }

    @Test("Request line syntax")
    func requestLine() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
        #expect(rejection("G(T / HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET  / HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET /  HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1 \r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET /a\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET /\u{E9} HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET /a\u{01} HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET /#frag HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET /\r\n\r\n") == 400)
    }

    @Test("Versions: 1.0 and 1.1 only; others 505; malformed 400")
    func versions() {
        #expect(rejection(head("", version: "HTTP/1.0")) == nil)
        for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.0"] {
            #expect(rejection(head("Host: h\r\n", version: version)) == 505, "\(version)")
        }
        for version in ["HTTP/1", "http/1.1", "HTTP/1.1x", "HTTP/11", "HTTP/1.", "HTTPS/1.1", "HTTP/a.1"] {
            #expect(rejection(head("Host: h\r\n", version: version)) == 400, "\(version)")
        }
    }

    @Test("Line endings: CRLF only; leading empty lines ignored (RFC 9112 §2.2)")
    func lineEndings() {
        #expect(rejection("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
        #expect(rejection("GET / HTTP/1.1\nHost: h\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\n\n") == 400)
        #expect(rejection("GET / HTTP/1.1\rHost: h\r\n\r\n") == 400)
        #expect(rejection("GET / HTTP/1.1\r\nX: a\rb\r\nHost: h\r\n\r\n") == 400)
        #expect(rejection("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
    }

    @Test("Field syntax (RFC 9112 §5, RFC 9110 §5.5)")
    func fields() throws {
        #expect(rejection(head("Host: h\r\nX : v\r\n")) == 400)
        #expect(rejection(head("Host: h\r\nX\t: v\r\n")) == 400)
        #expect(rejection(head("Host: h\r\nX: a\r\n  folded\r\n")) == 400)
        #expect(rejection(head("Host: h\r\n\tX: v\r\n")) == 400)
        #expect(rejection(head("Host: h\r\nX(: v\r\n")) == 400)
        #expect(rejection(head("Host: h\r\n: v\r\n")) == 400)
        #expect(rejection(head("Host: h\r\nNoColon\r\n")) == 400)
        for control in ["\u{00}", "\u{01}", "\u{0B}", "\u{0C}", "\u{1F}", "\u{7F}"] {
            #expect(rejection(head("Host: h\r\nX: a\(control)b\r\n")) == 400, "\(control.debugDescription)")
        }
        // HTAB inside a value and obs-text are allowed; OWS is trimmed.
        let run = decodeRequests(request(head("Host: h\r\nX:  \ta\tb\u{E9}\u{FF} \t\r\nEmpty:\r\n")))
        let message = try #require(run.messages.first)
        #expect(message.headers == [["X", "a\tb\u{E9}\u{FF}"], ["Empty", ""]])
    }

    @Test("Host: exactly one in HTTP/1.1, a valid authority (RFC 9112 §3.2)")
    func host() throws {
        #expect(rejection(head("X: y\r\n")) == 400)
        #expect(rejection(head("Host: a\r\nHost: a\r\n")) == 400)
        #expect(rejection(head("", version: "HTTP/1.0")) == nil)
        #expect(rejection(head("Host: a\r\nhost: b\r\n", version: "HTTP/1.0")) == 400)
        for bad in ["a b", "a/b", "user@a", "a:8x", "a?b", "[::1", ":80", "a#b"] {
            #expect(rejection(head("Host: \(bad)\r\n")) == 400, "\(bad)")
        }
        for good in ["a", "a.b-c_d~e", "a:80", "[::1]:8080", "127.0.0.1", "0.0.0.0=5000", ""] {
            #expect(rejection(head("Host: \(good)\r\n")) == nil, "\(good)")
        }
        let message = try #require(decodeRequests(request(head("Host: a:1\r\nX: y\r\n"))).messages.first)
        #expect(message.authority == "a:1")
        #expect(message.headers == [["X", "y"]])
    }

    @Test("Content-Length strictness (RFC 9112 §6.3)")
    func contentLengthRules() {
        for bad in ["-1", "+1", "1 1", "1,1", "1000,1000", "0x10", "1.0", "", "99999999999999999999999", "1a"] {
            #expect(rejection(head("Host: h\r\nContent-Length: \(bad)\r\n", line: "POST / ")) == 400, "\(bad)")
        }
        #expect(rejection(head("Host: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n", line: "POST / ")) == 400)
        #expect(rejection(head("Host: h\r\nContent-Length: 11\r\n", line: "POST / "), limits: HTTPLimits(maxBodySize: 10)) == 413)
        #expect(rejection(head("Host: h\r\nContent-Length: 10\r\n", line: "POST / ") + "0123456789", limits: HTTPLimits(maxBodySize: 10)) == nil)
        #expect(rejection(head("Host: h\r\nContent-Length: 007\r\n", line: "POST / ") + "abcdefg") == nil)
    }

    @Test("Transfer-Encoding strictness (RFC 9112 §6.1, §7)")
    func transferEncodingRules() {
        func status(_ value: String, version: String = "HTTP/1.1", extra: String = "") -> Int? {
            rejection(head("Host: h\r\nTransfer-Encoding: \(value)\r\n\(extra)", version: version, line: "POST / ") + "0\r\n\r\n")
        }
        #expect(status("chunked") == nil)
        #expect(status("Chunked") == nil)
        #expect(status("  chunked  ") == nil)
        #expect(rejection(head("Host: h\r\nTrAnSfEr-EnCoDiNg: ChUnKeD\r\n", line: "POST / ") + "0\r\n\r\n") == nil)
        for unsupported in ["gzip", "identity", "chunked, gzip", "gzip, chunked", "foo", "gzip;q=1, chunked"] {
            #expect(status(unsupported) == 501, "\(unsupported)")
        }
        // RFC 9110 §5.6.1.2: empty list elements are ignored; a field of nothing else is malformed.
        for withEmptyElements in [",chunked", "chunked,", "chunked,,", " , chunked ,"] {
            #expect(status(withEmptyElements) == nil, "\(withEmptyElements.debugDescription)")
        }
        for malformed in ["chunked;", ",", " , ", "chunkedx", "\u{0B}chunked", "chunked\u{01}",
                          "chunked, chunked", "chunked;a=b", "\"chunked\"", "ch unked", "chunked\u{A0}"] {
            #expect(status(malformed) == 400, "\(malformed.debugDescription)")
        }
        #expect(rejection(head("Host: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", line: "POST / ")) == 400)
        #expect(rejection(head("Host: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", line: "POST / ")) == 501)
        #expect(status("chunked", extra: "Content-Length: 5\r\n") == 400)
        #expect(status("chunked", version: "HTTP/1.0") == 400)
    }

    @Test("Chunk syntax (RFC 9112 §7.1)")
    func chunkRules() {
        let prefix = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(rejection(prefix + "A\r\n0123456789\r\n0\r\n\r\n") == nil)
        #expect(rejection(prefix + "0000000000000001\r\nx\r\n0\r\n\r\n") == nil)
        // Leading zeros do not count towards the 16 significant digits.
        #expect(rejection(prefix + "000000000000000000000001\r\nx\r\n0\r\n\r\n") == nil)
        for bad in [" 5\r\nhello\r\n", "5 \r\nhello\r\n", "0x5\r\nhello\r\n", "-5\r\nhello\r\n", "+5\r\nhello\r\n",
                    "g\r\n", "\r\n", "5\r\nhelloX\r\n", "5\r\nhello\n", "5\nhello\r\n", "5;\r\nhello\r\n",
                    "5;a=\r\nhello\r\n", "5;a=\"x\r\nhello\r\n", "5;=b\r\nhello\r\n", "5;a b\r\nhello\r\n",
                    "10000000000000001\r\nx\r\n", "ffffffffffffffff\r\n"] {
            #expect(rejection(prefix + bad + "0\r\n\r\n") == 400, "\(bad.debugDescription)")
        }
        // Trailers follow the field rules; framing fields are forbidden there.
        #expect(rejection(prefix + "0\r\nX: a\r\n\r\n") == nil)
        #expect(rejection(prefix + "0\r\nX : a\r\n\r\n") == 400)
        #expect(rejection(prefix + "0\r\nContent-Length: 1\r\n\r\n") == 400)
        #expect(rejection(prefix + "0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(rejection(prefix + "0\r\nHost: x\r\n\r\n") == 400)
        // Decoded size over maxBodySize → 413.
        #expect(rejection(prefix + "6\r\n012345\r\n5\r\n01234\r\n0\r\n\r\n", limits: HTTPLimits(maxBodySize: 10)) == 413)
        #expect(rejection(prefix + "5\r\n01234\r\n5\r\n01234\r\n0\r\n\r\n", limits: HTTPLimits(maxBodySize: 10)) == nil)
    }

    @Test("Limits are enforced while bytes arrive (414, 431)")
    func limits() {
        let limits = HTTPLimits(maxRequestTargetLength: 20, maxHeaderSectionSize: 100, maxHeaderCount: 3)
        #expect(rejection("GET /\(String(repeating: "a", count: 19)) HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) == nil)
        #expect(rejection("GET /\(String(repeating: "a", count: 20)) HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) == 414)
        // No end of line yet: the target alone decides.
        #expect(rejection("GET /\(String(repeating: "a", count: 200))", limits: limits) == 414)
        // RFC 9112 §3: a method longer than any implemented → 501, whether the line is complete or not.
        #expect(rejection("\(String(repeating: "G", count: 2000))", limits: limits) == 501)
        #expect(rejection("\(String(repeating: "G", count: 2000)) / HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) == 501)
        #expect(rejection("\(String(repeating: "G", count: 1000)) / HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) == nil)
        #expect(rejection(head("Host: h\r\nA: 1\r\nB: 2\r\n"), limits: limits) == nil)
        #expect(rejection(head("Host: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n"), limits: limits) == 431)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nA: \(String(repeating: "x", count: 200))", limits: limits) == 431)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nA: \(String(repeating: "x", count: 90))\r\n\r\n", limits: limits) == 431)
    }

    @Test("Expect: 100-continue (RFC 9110 §10.1.1)")
    func expect() throws {
        let run = decodeRequests(request(head("Host: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n", line: "PUT / ") + "x"))
        #expect(try #require(run.messages.first).expectsContinue)
        var decoder = HTTPRequestDecoder()
        decoder.append(request(head("Host: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n", line: "PUT / ")))
        guard case .head(let parsed) = try decoder.next() else { Issue.record("expected head"); return }
        #expect(parsed.expectsContinue)
        #expect(rejection(head("Host: h\r\nExpect: something-else\r\n")) == 417)
        // A list: empty elements are ignored (RFC 9110 §5.6.1.2); any other expectation is unsupported.
        for value in ["100-continue,", ", 100-continue", "100-continue, ,"] {
            let listed = decodeRequests(request(head("Host: h\r\nExpect: \(value)\r\nContent-Length: 1\r\n", line: "PUT / ") + "x"))
            #expect(try #require(listed.messages.first).expectsContinue, "\(value)")
        }
        #expect(rejection(head("Host: h\r\nExpect: 100-continue, foo\r\n")) == 417)
        let old = try #require(decodeRequests(request(head("Expect: whatever\r\n", version: "HTTP/1.0"))).messages.first)
        #expect(!old.expectsContinue)
    }

    @Test("After an error the decoder stays failed")
    func staysFailed() {
        var decoder = HTTPRequestDecoder()
        decoder.append(request("GET / HTTP/1.1\r\nX : y\r\n\r\n"))
        #expect(throws: HTTPParseError.self) { try decoder.next() }
        decoder.append(request("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(throws: HTTPParseError(status: 400, reason: "whitespace between field name and colon")) { try decoder.next() }
    }
}
