import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Testing
import TestSupport

/// Upstream response framings the gateway must decode and re-frame (RFC 9112 §6, §7.1).
@Suite("Reverse proxy: upstream response framing")
struct ProxyUpstreamResponseTests {
    @Test func chunkedBodyWithTrailersIsReframedWithContentLength() async throws {
        let reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nContent-Type: text/plain\r\n\r\n"
            + "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n"
        try await withScriptedUpstream(script: ScriptedUpstream.answering { _ in reply }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                for _ in 0..<2 {
                    try await client.send("GET /chunked HTTP/1.1\r\nHost: c.test\r\n\r\n")
                    let response = try await client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.text == "hello, world")
                    #expect(response.header("Content-Length") == "12")
                    #expect(response.header("Transfer-Encoding") == nil)
                    #expect(response.header("Trailer") == nil)
                    #expect(response.header("Content-Type") == "text/plain")
                    #expect(response.head.framing == .contentLength(12))
                }
                // A chunked response ends cleanly: the connection went back to the pool.
                #expect(upstream.acceptedCount == 1)
            }
        }
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end, \r\nwith CRLF inside",
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end, \r\nwith CRLF inside",
    ])
    func closeDelimitedBodyIsReframed(reply: String) async throws {
        let body = "until the end, \r\nwith CRLF inside"
        try await withScriptedUpstream(script: { connection in
            guard try await connection.readRequest() != nil else { return }
            try await connection.write(reply)
            // Returning closes the connection: that ends the body (RFC 9112 §6.3 rule 8).
        }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                for _ in 0..<2 {
                    try await client.send("GET /close HTTP/1.1\r\nHost: c.test\r\n\r\n")
                    let response = try await client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.text == body)
                    #expect(response.header("Content-Length") == "\(body.utf8.count)")
                    #expect(response.head.version == .http1_1)
                    #expect(response.head.keepAlive)
                }
                #expect(upstream.acceptedCount == 2)
            }
        }
    }

    @Test func interimResponsesAreNotRelayed() async throws {
        let reply = "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            + "HTTP/1.1 102 Processing\r\n\r\n"
            + "HTTP/1.1 201 Created\r\nLocation: /things/1\r\nContent-Length: 4\r\n\r\nmade"
        try await withScriptedUpstream(script: ScriptedUpstream.answering { _ in reply }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("POST /things HTTP/1.1\r\nHost: i.test\r\nContent-Length: 1\r\nConnection: close\r\n\r\n!")
                let raw = String(decoding: try await client.readUntilClose(), as: UTF8.self)
                #expect(raw.hasPrefix("HTTP/1.1 201 Created\r\n"), "\(raw)")
                #expect(!raw.contains("100 Continue"))
                #expect(!raw.contains("103"))
                #expect(!raw.contains("102 Processing"))
                #expect(!raw.contains("style.css"))
                #expect(raw.contains("Location: /things/1\r\n"))
                #expect(raw.hasSuffix("\r\n\r\nmade"))
                #expect(upstream.requests.count == 1)
            }
        }
    }

    @Test func headResponseKeepsItsContentLengthAndHasNoBody() async throws {
        try await withScriptedUpstream(
            script: ScriptedUpstream.answering { request in
                request.head.request.method == .head
                    ? "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/html\r\n\r\n"
                    : "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nget"
            }
        ) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                // Pipelined: if the gateway wrote any body bytes after the HEAD response, the GET's would be garbled.
                try await client.send("HEAD /h HTTP/1.1\r\nHost: h.test\r\n\r\nGET /g HTTP/1.1\r\nHost: h.test\r\n\r\n")
                let responses = try await client.readResponses(2, methods: [.head, .get])
                #expect(responses[0].status == 200)
                #expect(responses[0].header("Content-Length") == "1234")
                #expect(responses[0].header("Content-Type") == "text/html")
                #expect(responses[0].body.isEmpty)
                #expect(responses[1].text == "get")
                #expect(upstream.acceptedCount == 1)
            }
        }
    }

    /// RFC 9110 §8.6: a `Content-Length` in a HEAD response must be the length a GET would have had. An
    /// upstream that answers HEAD with `Transfer-Encoding: chunked` gives no length, so the gateway must not
    /// invent one (it may omit the field).
    @Test func headResponseWithoutLengthDoesNotClaimAnEmptyBody() async throws {
        try await withScriptedUpstream(
            script: ScriptedUpstream.answering { _ in "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n" }
        ) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("HEAD /big HTTP/1.1\r\nHost: h.test\r\n\r\n")
                let response = try await client.readResponse(method: .head)
                #expect(response.status == 200)
                #expect(response.header("Content-Length") != "0", "the gateway claims the GET body would be empty")
            }
        }
    }

    @Test func noContentAndNotModifiedHaveNoBody() async throws {
        try await withScriptedUpstream(
            script: ScriptedUpstream.answering { request in
                switch request.path {
                case "/204": "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"
                // A 304 may carry the Content-Length of the 200 it stands for; it still has no body.
                case "/304": "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 42\r\n\r\n"
                default: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter"
                }
            }
        ) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send(
                    "DELETE /204 HTTP/1.1\r\nHost: n.test\r\n\r\n"
                        + "GET /304 HTTP/1.1\r\nHost: n.test\r\nIf-None-Match: \"v1\"\r\n\r\n"
                        + "GET /ok HTTP/1.1\r\nHost: n.test\r\n\r\n")
                let responses = try await client.readResponses(3)
                #expect(responses.map(\.status) == [204, 304, 200])
                #expect(responses[0].header("Content-Length") == nil)  // RFC 9110 §8.6: never in a 204
                #expect(responses[0].header("X-A") == "1")
                #expect(responses[0].body.isEmpty)
                #expect(responses[1].header("ETag") == "\"v1\"")
                #expect(responses[1].body.isEmpty)
                #expect(responses[2].text == "after")
                #expect(upstream.requests.first { $0.path == "/304" }?.head.request.headerFields[.ifNoneMatch] == "\"v1\"")
                #expect(upstream.acceptedCount == 1)
            }
        }
    }
}
