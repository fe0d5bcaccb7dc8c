import Foundation
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Testing
import TestSupport

@Suite("HTTP server over real sockets")
struct ServerTests {
    @Test func answersASimpleRequest() async throws {
        try await withServer(helloHandler) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello /a")
            #expect(response.header("Content-Length") == "8")
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer(helloHandler) { _, port in
            let client = try await TestClient.connect(port: port)
            var batch = ""
            for i in 0..<20 { batch += "POST /\(i) HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n\(i % 10)" }
            try await client.send(batch)
            let responses = try await client.readResponses(20)
            #expect(responses.map(\.text) == (0..<20).map { "hello /\($0)\($0 % 10)" })
        }
    }

    @Test func requestSentOneByteAtATime() async throws {
        try await withServer(helloHandler) { _, port in
            let client = try await TestClient.connect(port: port)
            let request = Array("POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".utf8)
            for byte in request { try await client.send([byte]) }
            let response = try await client.readResponse()
            #expect(response.text == "hello /slowabc")
        }
    }

    @Test func malformedRequestGets400AndClose() async throws {
        try await withServer(helloHandler) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 400)
            #expect(response.head.keepAlive == false)
            #expect(response.header("Content-Type") == "application/problem+json")
            #expect(response.header("Date") != nil, "RFC 9110 §6.6.1: the server's own 4xx carries Date too")
            #expect(response.header("Content-Language") == "en")
            #expect(response.header("Cache-Control") == "no-store")
            // RFC 9457 §4.2.1: an about:blank problem's title is the status phrase.
            #expect(response.text.hasPrefix(#"{"type":"about:blank","title":"Bad Request","status":400,"#))
            #expect(await client.isClosedByPeer(within: .seconds(2)))
        }
    }

    @Test func errorsAnsweringHEADHaveNoBody() async throws {
        // RFC 9110 §9.3.2: a response to HEAD has no content, even when the server rejects the request itself.
        for request in [
            "HEAD /x HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n",  // 417
            "HEAD /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999\r\n\r\n",  // 413
            "HEAD /x HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n",  // 400
            "\r\n\r\nHEAD /x HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n",  // 417 after empty lines
            "HEAD /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  // 400 in the body
        ] {
            try await withServer(helloHandler) { _, port in
                let client = try await TestClient.connect(port: port)
                try await client.send(request)
                let text = String(decoding: try await client.readUntilClose(timeout: .seconds(5)), as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 4"), "\(request.debugDescription)")
                #expect(text.contains("Content-Length: "))
                #expect(text.hasSuffix("\r\n\r\n"), "no body after the head: \(text.debugDescription)")
            }
        }
    }

    @Test func limitsAnswerWithTheirStatus() async throws {
        let cases: [(String, Int)] = [
            ("GET /\(String(repeating: "a", count: 300)) HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 2000))\r\n\r\n", 431),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            // RFC 9112 §3: a method longer than any implemented → 501 (past 1 KiB, on a line over the target limit).
            ("\(String(repeating: "M", count: 2000)) / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ]
        try await withServer(helloHandler, configure: {
            $0.limits = HTTPLimits(maxRequestTargetLength: 256, maxHeaderSectionSize: 1024, maxHeaderCount: 10, maxBodySize: 4096)
        }) { _, port in
            for (request, status) in cases {
                let client = try await TestClient.connect(port: port)
                try await client.send(request)
                let response = try await client.readResponse()
                #expect(response.status == status, "\(request.prefix(40))")
                // An RFC 9457 problem like every error the server answers itself, never cached.
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(response.header("Cache-Control") == "no-store")
                #expect(response.text.contains(#""status":\#(status)"#))
                #expect(response.head.keepAlive == false)
                #expect(await client.isClosedByPeer(within: .seconds(2)))
            }
        }
    }

    @Test func expectContinueGetsInterimResponse() async throws {
        try await withServer(helloHandler) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
            var received: [UInt8] = []
            _ = try await client.socket.read(deadline: .now + .seconds(5)) { received += $0 }
            #expect(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
            try await client.send("xyz")
            let response = try await client.readResponse()
            #expect(response.text == "hello /exyz")
        }
    }

    @Test func http10ClosesUnlessKeepAlive() async throws {
        try await withServer(helloHandler) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET /old HTTP/1.0\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.text == "hello /old")
            #expect(await client.isClosedByPeer(within: .seconds(2)))

            let keep = try await TestClient.connect(port: port)
            try await keep.send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await keep.readResponse().header("Connection")?.lowercased() == "keep-alive")
            try await keep.send("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await keep.readResponse().text == "hello /2")
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withServer(helloHandler) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.header("Connection") == "close")
            #expect(await client.isClosedByPeer(within: .seconds(2)))
        }
    }

    @Test func slowlorisIsCutOffByTheHeaderTimeout() async throws {
        // 1 s, not less: the request line, sent right after the connect, must arrive within it.
        try await withServer(helloHandler, configure: { $0.headerTimeout = .seconds(1) }) { _, port in
            let client = try await TestClient.connect(port: port)
            let start = ContinuousClock.now
            try await client.send("GET / HTTP/1.1\r\n")
            // A header line every 200 ms, as a slowloris sends them, until the server answers. Not past its answer:
            // a line sent after it closed would be answered with a reset, which may discard the answer unread.
            var all: [UInt8] = []
            while all.isEmpty, ContinuousClock.now - start < .seconds(8) {
                try? await client.send("X-A: b\r\n")
                guard let bytes = try await client.readAvailable(within: .milliseconds(200)) else { break }
                all = bytes
            }
            all += try await client.readUntilClose(timeout: .seconds(5))
            #expect(String(decoding: all, as: UTF8.self).hasPrefix("HTTP/1.1 408"))
            // Well before the 10 s default: the 1 s limit applied (generous for a loaded 2-core machine).
            #expect(ContinuousClock.now - start < .seconds(8))
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        try await withServer(helloHandler, configure: { $0.idleTimeout = .milliseconds(500) }) { server, port in
            // A connection that never sends a request is idle from the start (the same wait as between keep-alive
            // requests), so this holds however late the test task itself gets to run.
            let client = try await TestClient.connect(port: port)
            #expect(await client.isClosedByPeer(within: .seconds(20)))
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    @Test func aNewConnectionThatSendsNothingGetsOnlyTheHeaderTimeout() async throws {
        // Not a whole keep-alive idle time: silent connections would otherwise hold every slot.
        // 2 s: a request sent right after its connect meets it even on a loaded machine.
        try await withServer(helloHandler, configure: {
            $0.headerTimeout = .seconds(2)
            $0.idleTimeout = .seconds(60)
        }) { _, port in
            let silent = try await TestClient.connect(port: port)
            #expect(await silent.isClosedByPeer(within: .seconds(15)))
            // Between requests the idle timeout applies: open past the header timeout.
            let client = try await TestClient.connect(port: port)
            try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await client.readResponse()
            #expect(!(await client.isClosedByPeer(within: .seconds(3))))
        }
    }

    @Test func emptyLinesDoNotKeepAConnectionOpen() async throws {
        // RFC 9112 §2.2 lets a server skip CRLFs before a request line; they must not restart the idle time.
        try await withServer(helloHandler, configure: { $0.idleTimeout = .milliseconds(600) }) { server, port in
            let client = try await TestClient.connect(port: port)
            let start = ContinuousClock.now
            var closed = false
            for _ in 0..<100 {
                do { try await client.send("\r\n") } catch { closed = true; break }
                if await client.isClosedByPeer(within: .milliseconds(200)) { closed = true; break }
            }
            #expect(closed)
            // 100 CRLFs 200 ms apart take 20 s: closed long before, near the 600 ms idle limit.
            #expect(ContinuousClock.now - start < .seconds(10))
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    @Test func aFloodOfEmptyLinesIsCutOffAtTheIdleTimeout() async throws {
        // A read returns what is there before it looks at its deadline: the deadline is checked between reads too.
        try await withServer(helloHandler, configure: { $0.idleTimeout = .milliseconds(600) }) { server, port in
            let client = try await TestClient.connect(port: port)
            let flood = String(repeating: "\r\n", count: 32 * 1024)
            let start = ContinuousClock.now
            var closed = false
            while ContinuousClock.now - start < .seconds(15) {
                do { try await client.send(flood) } catch {
                    closed = true
                    break
                }
            }
            #expect(closed)
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    /// A client that stops reading a response is disconnected after `writeTimeout` of a full receive window, so it
    /// cannot hold a connection (and the response's memory) for ever.
    @Test func aClientThatStopsReadingIsDisconnectedAfterTheWriteTimeout() async throws {
        let large = ClosureHandler { _ in GatewayResponse(status: .ok, body: [UInt8](repeating: 0x61, count: 32 << 20)) }
        try await withServer(large, configure: { $0.writeTimeout = .milliseconds(300) }) { server, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            // The client reads nothing: the kernel buffers fill and the server's write stalls.
            #expect(await eventually(timeout: .seconds(10)) { server.connectionCount == 0 })
            client.close()
        }
    }

    @Test func connectionLimitAnswers503() async throws {
        try await withServer(helloHandler, configure: { $0.maxConnections = 2 }) { server, port in
            let a = try await TestClient.connect(port: port)
            let b = try await TestClient.connect(port: port)
            #expect(await eventually { server.connectionCount == 2 })
            let c = try await TestClient.connect(port: port)
            let all = String(decoding: try await c.readUntilClose(), as: UTF8.self)
            #expect(all.hasPrefix("HTTP/1.1 503"))
            // A problem like the server's other errors, dated (RFC 9110 §6.6.1), with Retry-After.
            #expect(all.contains("\r\nContent-Type: application/problem+json\r\n"))
            #expect(all.contains("\r\nRetry-After: 1\r\n"))
            #expect(all.contains("\r\nDate: "))
            #expect(all.hasSuffix(#""status":503,"detail":"The gateway has reached its connection limit (or is shutting down). Retry shortly."}"#))
            a.close()
            b.close()
        }
    }

    @Test func gracefulShutdownFinishesTheRequestInFlight() async throws {
        let gate = TestGate()
        let slow = ClosureHandler { _ in
            await gate.wait()
            return GatewayResponse(status: .ok, body: Array("done".utf8))
        }
        let server = HTTPServer(configuration: ServerConfiguration(address: try SocketAddress(ip: "127.0.0.1", port: 0)), handler: slow)
        try server.start()
        let port = server.address!.port
        let busy = try await TestClient.connect(port: port)
        let idle = try await TestClient.connect(port: port)
        #expect(await eventually { server.connectionCount == 2 })
        try await busy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(await eventually { gate.waiting })
        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(20)) }
        // Shutdown has begun once the idle connection is closed; only then does the request in flight finish.
        #expect(await idle.isClosedByPeer(within: .seconds(10)))
        gate.open()
        let response = try await busy.readResponse()
        #expect(response.text == "done")
        #expect(response.header("Connection") == "close")
        await shutdown.value
        #expect(server.connectionCount == 0)
        await #expect(throws: (any Error).self) { _ = try await TestClient.connect(port: port) }
    }

    @Test func ipv6Loopback() async throws {
        let server = HTTPServer(configuration: ServerConfiguration(address: try SocketAddress(ip: "::1", port: 0)), handler: helloHandler)
        do {
            try server.start()
        } catch {
            // The machine has no IPv6 loopback: nothing to test here, but say so loudly.
            Issue.record("IPv6 loopback unavailable: \(error)")
            return
        }
        let client = try await TestClient.connect(port: server.address!.port, host: "::1")
        try await client.send("GET /six HTTP/1.1\r\nHost: [::1]\r\n\r\n")
        #expect(try await client.readResponse().text == "hello /six")
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func tenThousandMalformedRequestsLeakNoDescriptors() async throws {
        try await withServer(helloHandler) { server, port in
            // Warm up (Dispatch, sockets) before taking the baseline.
            let warm = try await TestClient.connect(port: port)
            try await warm.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            _ = try await warm.readUntilClose()
            warm.close()
            #expect(await eventually { server.connectionCount == 0 })
            let baseline = openDescriptorCount()
            let bad = [
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "GET /\u{01} HTTP/1.1\r\nHost: x\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "GET / HTTP/1.1\r\nHost: x\r\n Folded: y\r\n\r\n",
                "GARBAGE\r\n\r\n",
            ]
            // 10,000 malformed requests over 100 concurrent lanes.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<100 {
                    group.addTask {
                        for i in 0..<100 {
                            let client = try await TestClient.connect(port: port)
                            try await client.send(bad[(lane + i) % bad.count])
                            var all: [UInt8] = []
                            do {
                                all = try await client.readUntilClose()
                            } catch {
                                Issue.record("lane \(lane) request \(i): \(error), server connections \(server.connectionCount)")
                                throw error
                            }
                            #expect(String(decoding: all.prefix(12), as: UTF8.self) == "HTTP/1.1 400")
                            client.close()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(await eventually { server.connectionCount == 0 })
            #expect(await eventually { openDescriptorCount() <= baseline })
        }
    }
}

@Suite("Date header")
struct DateHeaderTests {
    @Test func responsesWithoutDateGetOne() async throws {
        try await withServer(helloHandler) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let date = try #require(try await client.readResponse().header("Date"))
            // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7).
            #expect(date.count == 29 && date.hasSuffix(" GMT"))
        }
    }

    @Test func aHandlersOwnDateIsKept() async throws {
        let dated = ClosureHandler { _ in
            GatewayResponse(status: .ok, headerFields: [.date: "Sun, 06 Nov 1994 08:49:37 GMT"])
        }
        try await withServer(dated) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().header("Date") == "Sun, 06 Nov 1994 08:49:37 GMT")
        }
    }
}

@Suite("Event loops")
struct EventLoopCountTests {
    /// One loop per processor the process may run on: what `nproc` (which honours the CPU affinity, as a container's
    /// cpuset or `taskset` sets it) prints.
    @Test func oneLoopPerUsableProcessor() throws {
        let nproc = Process()
        nproc.executableURL = URL(fileURLWithPath: "/usr/bin/nproc")
        // nproc also obeys OpenMP's variables, which say nothing about the affinity.
        nproc.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMP_") }
        let output = Pipe()
        nproc.standardOutput = output
        try nproc.run()
        nproc.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let expected = try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(IOLoopGroup.usableProcessors == expected)
        #expect(IOLoopGroup.shared.loops.count == expected)
    }
}
