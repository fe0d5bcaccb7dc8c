import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Testing
import TestSupport

/// The reverse proxy forwards requests and responses faithfully over real sockets.
@Suite("Reverse proxy: forwarding")
struct ProxyForwardingTests {
    /// Answers with the status asked for in `X-Reply-Status`, a few end-to-end fields (one repeated) and a body
    /// made from the request (its body reversed, then its path).
    static let replying: @Sendable (GatewayRequest) async throws -> GatewayResponse = { request in
        let code = request.head.headerFields[HTTPField.Name("X-Reply-Status")!].flatMap { Int($0) } ?? 200
        var fields = HTTPFields()
        fields.append(HTTPField(name: .contentType, value: "application/octet-stream"))
        fields.append(HTTPField(name: HTTPField.Name("X-Reply-A")!, value: "1"))
        fields.append(HTTPField(name: .setCookie, value: "a=1; Path=/"))
        fields.append(HTTPField(name: HTTPField.Name("X-Reply-B")!, value: "two words"))
        fields.append(HTTPField(name: .setCookie, value: "b=2"))
        fields.append(HTTPField(name: .eTag, value: "\"v7\""))
        let body = Array(request.body.reversed()) + Array((request.head.path ?? "").utf8)
        return GatewayResponse(status: HTTPResponse.Status(code: code), headerFields: fields, body: body)
    }

    @Test func requestAndResponseAreForwardedFaithfully() async throws {
        let requestBody = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }  // binary, every byte value
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                for code in [200, 201, 404, 500, 503] {
                    let head = "POST /orders/42?x=1&y=%20z&x=2 HTTP/1.1\r\n"
                        + "Host: api.example.test:8443\r\n"
                        + "x-CUSTOM: one\r\n"
                        + "Accept: application/json, */*;q=0.1\r\n"
                        + "X-Custom: two\r\n"
                        + "X-Empty: \r\n"
                        + "Content-Type: application/octet-stream\r\n"
                        + "X-Reply-Status: \(code)\r\n"
                        + "Content-Length: \(requestBody.count)\r\n\r\n"
                    try await client.send(Array(head.utf8) + requestBody)
                    let response = try await client.readResponse(method: .post)

                    let seen = try #require(upstream.last)
                    #expect(seen.head.method == .post)
                    #expect(seen.head.path == "/orders/42?x=1&y=%20z&x=2")
                    #expect(seen.head.authority == "api.example.test:8443")
                    #expect(seen.body == requestBody)
                    // End-to-end fields arrive in order, repeated fields stay separate, names keep their case.
                    #expect(
                        pairs(seen.head.headerFields, named: ["x-custom", "accept", "x-empty", "content-type"]) == [
                            "x-CUSTOM: one", "Accept: application/json, */*;q=0.1", "X-Custom: two", "X-Empty: ",
                            "Content-Type: application/octet-stream",
                        ])
                    #expect(seen.head.headerFields[HTTPField.Name("Content-Length")!] == "\(requestBody.count)")

                    #expect(response.status == code)
                    let phrases = [200: "OK", 201: "Created", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"]
                    #expect(response.head.response.status.reasonPhrase == phrases[code])
                    #expect(
                        pairs(response.head.response.headerFields, named: ["content-type", "x-reply-a", "set-cookie", "x-reply-b", "etag"])
                            == [
                                "Content-Type: application/octet-stream", "X-Reply-A: 1", "Set-Cookie: a=1; Path=/",
                                "X-Reply-B: two words", "Set-Cookie: b=2", "ETag: \"v7\"",
                            ])
                    let expectedBody = Array(requestBody.reversed()) + Array("/orders/42?x=1&y=%20z&x=2".utf8)
                    #expect(response.body == expectedBody)
                    #expect(response.header("Content-Length") == "\(expectedBody.count)")
                }
                #expect(upstream.requests.count == 5)
            }
        }
    }

    @Test func everyMethodIsForwarded() async throws {
        let methods = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "POST", "PURGE"]
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                for method in methods {
                    let body = method == "GET" || method == "HEAD" || method == "DELETE" ? "" : "data-\(method)"
                    let length = body.isEmpty ? "" : "Content-Length: \(body.utf8.count)\r\n"
                    try await client.send("\(method) /m/\(method) HTTP/1.1\r\nHost: m.test\r\n\(length)\r\n\(body)")
                    let response = try await client.readResponse(method: HTTPRequest.Method(method)!)
                    #expect(response.status == 200, "\(method)")
                    let seen = try #require(upstream.last)
                    #expect(seen.head.method.rawValue == method)
                    #expect(seen.head.path == "/m/\(method)")
                    #expect(seen.body == Array(body.utf8), "\(method)")
                    if method == "HEAD" {
                        #expect(response.body.isEmpty)
                        #expect(response.header("Content-Length") == "\("/m/HEAD".utf8.count)")
                    } else {
                        #expect(response.body == Array(body.utf8.reversed()) + Array("/m/\(method)".utf8))
                    }
                }
            }
        }
    }

    @Test func chunkedRequestBodyIsForwardedWithContentLength() async throws {
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send(
                    "POST /c HTTP/1.1\r\nHost: c.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "4\r\nWiki\r\n6;ext=x\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n")
                let response = try await client.readResponse(method: .post)
                #expect(response.status == 200)
                let seen = try #require(upstream.last)
                #expect(seen.body == Array("Wikipedia in \r\n\r\nchunks.".utf8))
                #expect(seen.head.headerFields[HTTPField.Name("Transfer-Encoding")!] == nil)
                #expect(seen.head.headerFields[HTTPField.Name("Content-Length")!] == "\(seen.body.count)")
            }
        }
    }

    @Test func absoluteFormTargetIsSentInOriginForm() async throws {
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET http://abs.example:8080/abs/p?q=1 HTTP/1.1\r\nHost: abs.example:8080\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                let seen = try #require(upstream.last)
                #expect(seen.head.path == "/abs/p?q=1")
                #expect(seen.head.authority == "abs.example:8080")
                #expect(seen.head.scheme == nil)
            }
        }
    }

    @Test func optionsForTheWholeServerIsSentAsAsterisk() async throws {
        // RFC 9112 §3.2.4: the last proxy sends "OPTIONS *" for an absolute-form OPTIONS without a path.
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address, upstream: { $0.basePath = "/base" }) { gateway in
                let client = try await gateway.connect()
                try await client.send("OPTIONS http://a:80 HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(try await client.readResponse().status == 200)
                #expect(try #require(upstream.last).head.path == "*")
                try await client.send("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(try await client.readResponse().status == 200)
                #expect(try #require(upstream.last).head.path == "*", "a base path is not put in front of *")
            }
        }
    }

    @Test func viaIsAddedAndAppended() async throws {
        // RFC 9110 §7.6.3: a gateway sends Via in each request it forwards, with the protocol it received.
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET /v1 HTTP/1.1\r\nHost: a\r\n\r\n")
                _ = try await client.readResponse()
                #expect(try #require(upstream.last).head.headerFields[values: .via] == ["1.1 idempotency-gateway"])
                try await client.send("GET /v2 HTTP/1.1\r\nHost: a\r\nVia: 1.0 fred, 1.1 p.example\r\n\r\n")
                _ = try await client.readResponse()
                #expect(
                    try #require(upstream.last).head.headerFields[values: .via] == [
                        "1.0 fred, 1.1 p.example, 1.1 idempotency-gateway"
                    ])
                try await client.send("GET /v3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                _ = try await client.readResponse()
                #expect(try #require(upstream.last).head.headerFields[values: .via] == ["1.0 idempotency-gateway"])
            }
        }
    }

    @Test func maxForwardsIsDecrementedAndZeroIsAnsweredHere() async throws {
        // RFC 9110 §7.6.2: on OPTIONS and TRACE only.
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("OPTIONS /m HTTP/1.1\r\nHost: a\r\nMax-Forwards: 5\r\n\r\n")
                _ = try await client.readResponse()
                #expect(try #require(upstream.last).head.headerFields[.maxForwards] == "4")
                let forwardedSoFar = upstream.requests.count

                try await client.send("OPTIONS /m HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n")
                let options = try await client.readResponse()
                #expect(options.status == 200)
                #expect(options.body.isEmpty)

                try await client.send(
                    "TRACE /t?x=1 HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\nAuthorization: Bearer secret\r\n"
                        + "Cookie: s=secret\r\nX-Api-Key: secret\r\nX-Auth-Token: secret\r\nX-Mine: 1\r\n\r\n")
                let trace = try await client.readResponse()
                #expect(trace.status == 200)
                #expect(trace.header("Content-Type") == "message/http")
                #expect(trace.text.hasPrefix("TRACE /t?x=1 HTTP/1.1\r\nHost: a\r\n"))
                #expect(trace.text.contains("X-Mine: 1\r\n"))
                #expect(!trace.text.contains("secret"), "credentials are not reflected")
                #expect(upstream.requests.count == forwardedSoFar, "neither reached the upstream")

                // Other methods forward Max-Forwards untouched.
                try await client.send("GET /g HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n")
                #expect(try await client.readResponse().status == 200)
                #expect(try #require(upstream.last).head.headerFields[.maxForwards] == "0")
            }
        }
    }

    @Test func customReasonPhraseIsRelayed() async throws {
        try await withScriptedUpstream(
            script: ScriptedUpstream.answering { _ in "HTTP/1.1 422 Nope Not Today\r\nContent-Length: 2\r\n\r\nno" }
        ) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET / HTTP/1.1\r\nHost: r.test\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 422)
                #expect(response.head.response.status.reasonPhrase == "Nope Not Today")
                #expect(response.text == "no")
            }
        }
    }

    @Test func hopByHopRequestFieldsNeverReachTheUpstream() async throws {
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send(
                    "GET /hop HTTP/1.1\r\n"
                        + "Host: hop.test\r\n"
                        + "Connection: keep-alive, X-Conn-Private, x-other-private\r\n"
                        + "X-Conn-Private: secret\r\n"
                        + "X-Other-Private: secret too\r\n"
                        + "Keep-Alive: timeout=5, max=10\r\n"
                        + "TE: trailers\r\n"
                        + "Trailer: X-Checksum\r\n"
                        + "Upgrade: websocket\r\n"
                        + "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
                        + "Proxy-Connection: keep-alive\r\n"
                        + "X-Keep: yes\r\n"
                        + "Authorization: Bearer end-to-end\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                let seen = try #require(upstream.last)
                let received = names(seen.head.headerFields)
                for hop in [
                    "connection", "x-conn-private", "x-other-private", "keep-alive", "te", "trailer", "upgrade",
                    "proxy-authorization", "proxy-connection", "transfer-encoding",
                ] {
                    #expect(!received.contains(hop), "\(hop) reached the upstream")
                }
                #expect(seen.head.headerFields[HTTPField.Name("X-Keep")!] == "yes")
                #expect(seen.head.headerFields[.authorization] == "Bearer end-to-end")
            }
        }
    }

    @Test func hopByHopResponseFieldsNeverReachTheClient() async throws {
        let reply = "HTTP/1.1 200 OK\r\n"
            + "Connection: X-Resp-Private, keep-alive\r\n"
            + "X-Resp-Private: s\r\n"
            + "Keep-Alive: timeout=5, max=100\r\n"
            + "Proxy-Authenticate: Basic realm=\"p\"\r\n"
            + "Proxy-Connection: keep-alive\r\n"
            + "Trailer: X-T\r\n"
            + "Upgrade: h2c\r\n"
            + "TE: trailers\r\n"
            + "X-End: kept\r\n"
            + "WWW-Authenticate: Basic realm=\"e2e\"\r\n"
            + "Content-Length: 2\r\n\r\nok"
        try await withScriptedUpstream(script: ScriptedUpstream.answering { _ in reply }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                for _ in 0..<2 {
                    try await client.send("GET /r HTTP/1.1\r\nHost: r.test\r\n\r\n")
                    let response = try await client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.text == "ok")
                    for hop in [
                        "connection", "x-resp-private", "keep-alive", "proxy-authenticate", "proxy-connection", "trailer",
                        "upgrade", "te",
                    ] {
                        #expect(!response.fieldNames.contains(hop), "\(hop) reached the client")
                    }
                    #expect(response.header("X-End") == "kept")
                    #expect(response.header("WWW-Authenticate") == "Basic realm=\"e2e\"")
                }
                // `Connection: keep-alive` from the upstream kept its connection in the pool.
                #expect(upstream.acceptedCount == 1)
            }
        }
    }

    @Test func forwardingFieldsAreAddedAndAppended() async throws {
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()

                try await client.send("GET /f1 HTTP/1.1\r\nHost: api.example\r\n\r\n")
                _ = try await client.readResponse()
                var seen = try #require(upstream.last).head.headerFields
                #expect(seen[values: HTTPField.Name("X-Forwarded-For")!] == ["127.0.0.1"])
                #expect(seen[values: HTTPField.Name("X-Forwarded-Proto")!] == ["http"])
                #expect(seen[values: HTTPField.Name("Forwarded")!] == ["for=127.0.0.1;proto=http;host=api.example"])

                // Existing values are appended to; a spoofed X-Forwarded-Proto is replaced.
                try await client.send(
                    "GET /f2 HTTP/1.1\r\nHost: api.example:8443\r\n"
                        + "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 198.51.100.1, 192.0.2.9\r\n"
                        + "X-Forwarded-Proto: https\r\n"
                        + "Forwarded: for=192.0.2.60;proto=https;by=203.0.113.43\r\n\r\n")
                _ = try await client.readResponse()
                seen = try #require(upstream.last).head.headerFields
                #expect(seen[HTTPField.Name("X-Forwarded-For")!] == "203.0.113.7, 198.51.100.1, 192.0.2.9, 127.0.0.1")
                #expect(seen[values: HTTPField.Name("X-Forwarded-Proto")!] == ["http"])
                #expect(
                    seen[values: HTTPField.Name("Forwarded")!] == [
                        "for=192.0.2.60;proto=https;by=203.0.113.43", "for=127.0.0.1;proto=http;host=\"api.example:8443\"",
                    ])
            }
        }
    }

    @Test func ipv6UpstreamAndClient() async throws {
        try await withRecordingUpstream(host: "::1", respond: Self.replying) { upstream in
            // The upstream given as a URL: bracketed IPv6 literal, with a base path.
            let url = "http://[::1]:\(upstream.address.port)/base/"
            let configuration = try UpstreamConfiguration(url: url)
            #expect(configuration.address.isIPv6)
            #expect(configuration.basePath == "/base")
            try await withGateway(to: configuration.address, host: "::1", upstream: { $0 = configuration }) { gateway in
                let client = try await gateway.connect()
                try await client.send("POST /six?x=1 HTTP/1.1\r\nHost: [::1]:\(gateway.port)\r\nContent-Length: 3\r\n\r\nabc")
                let response = try await client.readResponse(method: .post)
                #expect(response.status == 200)
                #expect(response.body == Array("cba/base/six?x=1".utf8))
                let seen = try #require(upstream.last)
                #expect(seen.head.path == "/base/six?x=1")
                #expect(seen.head.authority == "[::1]:\(gateway.port)")
                #expect(seen.connection.remoteAddress == "::1")
                #expect(seen.head.headerFields[HTTPField.Name("X-Forwarded-For")!] == "::1")
                #expect(
                    seen.head.headerFields[HTTPField.Name("Forwarded")!]
                        == "for=\"[::1]\";proto=http;host=\"[::1]:\(gateway.port)\"")
            }
        }
    }

    /// An HTTP/1.0 request may come without `Host`; the gateway forwards it as HTTP/1.1, which requires one
    /// (RFC 9112 §3.2: "A client MUST send a Host header field in all HTTP/1.1 request messages").
    @Test func http10RequestWithoutHostStillReachesTheUpstream() async throws {
        try await withRecordingUpstream(respond: Self.replying) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET /old HTTP/1.0\r\nUser-Agent: old\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200, "the upstream rejected the forwarded request: \(response.text)")
                #expect(upstream.requests.count == 1)
                #expect(response.head.version == .http1_0)
            }
        }
    }
}
