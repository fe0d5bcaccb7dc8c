import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Synchronization
import Testing
import TestSupport

private struct PartialReader: HTTPHandler {
    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        if let stream = request.bodyStream { _ = try await stream.next() }
        return GatewayResponse(status: .ok, body: Array("partial".utf8))
    }
    func acceptsStreamedBody(for head: HTTPRequest) -> Bool { true }
}

private struct EmptyPieces: HTTPHandler {
    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        let stream = ArrayBodyStream([Array("ab".utf8), [], Array("cd".utf8), []], announceLength: false)
        return GatewayResponse(head: HTTPResponse(status: .ok), bodyStream: stream)
    }
}

/// Framing at the edges of streamed bodies: short or truncated upstream bodies, a handler that stops reading, empty
/// pieces from a stream (RFC 9112 §6.3, §7.1).
@Suite("Streaming edge cases")
struct StreamingEdgeCaseTests {
    @Test func shortUpstreamContentLengthClosesClient() async throws {
        let payload = patternBytes(300 << 10)
        try await withScriptedUpstream(script: { connection in
            guard try await connection.readRequest() != nil else { return }
            try await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: \(1 << 20)\r\n\r\n".utf8) + payload)
            connection.close()
        }) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET /x HTTP/1.1\r\nHost: s\r\n\r\nGET /y HTTP/1.1\r\nHost: s\r\n\r\n")
                let raw = try await client.readUntilClose(timeout: .seconds(10))
                let split = try #require(raw.firstRange(of: Array("\r\n\r\n".utf8)))
                #expect(raw.count - split.upperBound == payload.count)
                #expect(String(decoding: raw, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").count == 2)
            }
        }
    }

    /// An upstream that sends 300 KiB of a chunked body, then half a chunk, and closes.
    static let truncatedChunked: @Sendable (ScriptedConnection) async throws -> Void = { connection in
        guard try await connection.readRequest() != nil else { return }
        var reply = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        HTTPEncoder.encodeChunk(patternBytes(300 << 10), into: &reply)
        reply += Array("10000\r\nabc".utf8)
        try await connection.write(reply)
        connection.close()
    }

    @Test func truncatedChunkedUpstreamClosesClientWithoutLastChunk() async throws {
        try await withScriptedUpstream(script: Self.truncatedChunked) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET /x HTTP/1.1\r\nHost: s\r\n\r\n")
                let raw = try await client.readUntilClose(timeout: .seconds(10))
                let text = String(decoding: raw, as: UTF8.self)
                #expect(text.contains("Transfer-Encoding: chunked"))
                #expect(!text.hasSuffix("0\r\n\r\n"))
            }
        }
    }

    /// To an HTTP/1.0 client a body of unknown length is close-delimited (RFC 9112 §6.3 rule 8): ending it with a
    /// FIN when the upstream broke off would make the part sent look whole. The gateway resets the connection.
    @Test func truncatedUpstreamBodyResetsAnHTTP10Client() async throws {
        try await withScriptedUpstream(script: Self.truncatedChunked) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let client = try await gateway.connect()
                try await client.send("GET /x HTTP/1.0\r\nHost: s\r\n\r\n")
                let ending: String
                do {
                    _ = try await client.readUntilClose(timeout: .seconds(10))
                    ending = "fin"
                } catch SocketError.timeout {
                    ending = "timeout"
                } catch {
                    ending = "reset"
                }
                #expect(ending == "reset", "a broken close-delimited body must not end like a complete one")
            }
        }
    }

    @Test func partiallyReadStreamedBodyClosesInsteadOfMisparsing() async throws {
        try await withServer(PartialReader(), configure: { $0.streamBodiesOver = 10 }) { _, port in
            let client = try await TestClient.connect(port: port)
            let body = String(repeating: "G", count: 200_000)
            try await client.send("PUT /a HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n\(body)GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
            let raw = String(decoding: try await client.readUntilClose(), as: UTF8.self)
            #expect(raw.hasPrefix("HTTP/1.1 200 "))
            #expect(raw.contains("Connection: close\r\n"))
            #expect(raw.components(separatedBy: "HTTP/1.1 ").count == 2)
        }
    }

    @Test func emptyPiecesDoNotEndAChunkedResponse() async throws {
        try await withServer(EmptyPieces()) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
            let responses = try await client.readResponses(2)
            #expect(responses[0].text == "abcd")
            #expect(responses[1].text == "abcd")
        }
    }
}
