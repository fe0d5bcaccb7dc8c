import GatewayHTTP
import Testing

@testable import GatewayBackends

/// The byte path's writer: what it writes, and that writing past its capacity is refused (the byte path sizes it
/// from the head, so a wrong bound shows here rather than as an overrun).
@Suite("ByteWriter")
struct ByteWriterTests {
    @Test("decimals, literals, strings and ranges come out as written")
    func writesWhatItIsGiven() {
        let head: [UInt8] = Array("Host: example.com".utf8)
        let written = ByteWriter.bytes(capacity: 128) { writer in
            for value in [0, 7, 10, 99, 100, 65535, 1_000_000, Int.max] {
                writer.write(decimal: value)
                writer.write(byte: 0x2C)
            }
            writer.write("literal;")
            writer.write("a string longer than fifteen bytes;")
            head.withUnsafeBufferPointer { writer.write($0, 6..<17) }
        }
        #expect(
            String(decoding: written, as: UTF8.self)
                == "0,7,10,99,100,65535,1000000,9223372036854775807,literal;a string longer than fifteen bytes;example.com")
    }

    @Test("exactly the capacity fits")
    func fillsItsCapacity() {
        let written = ByteWriter.bytes(capacity: 5) { writer in
            writer.write("1234")
            writer.write(decimal: 5)
        }
        #expect(written == Array("12345".utf8))
    }

    @Test("writing past the capacity traps instead of overrunning")
    func refusesToOverrun() async {
        await #expect(processExitsWith: .failure) {
            _ = ByteWriter.bytes(capacity: 4) { writer in
                writer.write("1234")
                writer.write(byte: 0x35)
            }
        }
    }
}

/// The byte path's edits within the room it sizes for them, on heads built to need the most: every field line
/// without a space after its colon (each one byte longer when rewritten), one-byte values the proxy replaces with
/// longer ones, a quoted IPv6 host and peer, a base path and a long request id.
@Suite("Byte path: the forwarded request fits the room sized for it")
struct ForwardedRequestSizeTests {
    private static func rawHead(_ text: String) throws -> RawRequestHead {
        var decoder = HTTPRequestDecoder()
        decoder.rawHeads = true
        decoder.append(Array(text.utf8))
        guard case .rawHead(let head)? = try decoder.next() else {
            Issue.record("no raw head")
            throw HTTPParseError(status: 400, reason: "no raw head")
        }
        return head
    }

    @Test func worstCaseHeads() throws {
        let proxy = ReverseProxyBackend(configuration: try UpstreamConfiguration(url: "http://127.0.0.1:9/base/path"))
        let many = (0..<90).map { "f\($0):v\r\n" }.joined()
        let heads = [
            "POST /o HTTP/1.1\r\nHost:[::1]:8080\r\nX-Request-Id:1\r\nVia:x\r\nX-Forwarded-For:y\r\nX-Forwarded-Proto:z\r\n\(many)\r\n",
            "GET / HTTP/1.1\r\nHost:\r\n\(many)\r\n",
            "PATCH /a HTTP/1.1\r\nHost:h\r\nContent-Length:0\r\n\r\n",
        ]
        let requestID = String(repeating: "r", count: 128)
        for text in heads {
            let head = try Self.rawHead(text)
            let connection = ConnectionInfo(remoteAddress: "fe80::1:2:3:4", scheme: "http")
            let message = proxy.forwardedRequest(head, body: Array("body".utf8), connection: connection, requestID: requestID)
            let written = String(decoding: message, as: UTF8.self)
            #expect(written.contains("X-Request-Id: \(requestID)\r\n"))
            #expect(written.contains("Forwarded: for=\"[fe80::1:2:3:4]\";proto=http"))
            #expect(written.contains("Content-Length: 4\r\n\r\nbody"))
            #expect(written.contains("f89: v\r\n") == text.contains("f89:v"))
        }
    }
}
