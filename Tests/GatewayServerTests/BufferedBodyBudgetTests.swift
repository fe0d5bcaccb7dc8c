import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Synchronization
import Testing
import TestSupport

@Suite("Buffered request bodies share one memory budget")
struct BufferedBodyBudgetTests {
    /// A handler that holds every request with a body until its gate opens, counting the requests it saw.
    final class Holding: HTTPHandler {
        let gate = TestGate()
        let seen = Atomic(0)
        func handle(_ request: consuming GatewayRequest) async throws -> GatewayResponse {
            seen.add(1, ordering: .relaxed)
            if !request.body.isEmpty { await gate.wait() }
            return GatewayResponse(status: .ok, body: Array("got \(request.body.count)".utf8))
        }
    }

    @Test func aBodyOverTheBudgetGets503BeforeTheHandler() async throws {
        let handler = Holding()
        try await withServer(handler, configure: { $0.maxBufferedBodyBytes = 1000 }) { server, port in
            let first = try await TestClient.connect(port: port)
            try await first.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n" + String(repeating: "a", count: 600))
            #expect(await eventually { handler.gate.waiting })
            #expect(server.bufferedBodies.inUse == 600)

            // 600 more would make 1200: refused at the head, before the handler and before `100 Continue`.
            let second = try await TestClient.connect(port: port)
            try await second.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\nExpect: 100-continue\r\n\r\n")
            let refused = try await second.readResponse(method: .post)
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.header("Content-Type") == "application/problem+json")
            #expect(refused.head.keepAlive == false)
            #expect(refused.text.contains("too many request bodies"))
            second.close()

            // A chunked body is counted as it arrives, and refused once it would go past the budget.
            let third = try await TestClient.connect(port: port)
            try await third.send(
                "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "12c\r\n" + String(repeating: "c", count: 300) + "\r\n"
                    + "12c\r\n" + String(repeating: "c", count: 300) + "\r\n0\r\n\r\n")
            let refusedChunked = try await third.readResponse(method: .post)
            #expect(refusedChunked.status == 503)
            #expect(server.bufferedBodies.refusals == 2)
            #expect(refusedChunked.head.keepAlive == false)
            third.close()
            #expect(handler.seen.load(ordering: .relaxed) == 1, "refused requests never reach the handler")

            // A body is counted as it arrives: a client that announced 300 bytes and sent 10 holds 10.
            let trickling = try await TestClient.connect(port: port)
            try await trickling.send("POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n" + String(repeating: "t", count: 10))
            #expect(await eventually { server.bufferedBodies.inUse == 610 })
            trickling.close()
            #expect(await eventually { server.bufferedBodies.inUse == 600 }, "a client that goes away gives its bytes back")

            // A small body still fits, and the whole budget is back once the first request is answered.
            let fourth = try await TestClient.connect(port: port)
            try await fourth.send("POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            #expect(try await fourth.readResponse(method: .post).status == 200)
            handler.gate.open()
            #expect(try await first.readResponse(method: .post).text == "got 600")
            #expect(await eventually { server.bufferedBodies.inUse == 0 })
            try await fourth.send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "e", count: 1000))
            #expect(try await fourth.readResponse(method: .post).text == "got 1000")
            #expect(server.bufferedBodies.inUse == 0)
        }
    }

    @Test func aBodyCountsUntilTheLastCopyOfItsRequestIsGone() async throws {
        // The idempotency engine keeps a keyed request (and its body) while its upstream exchange runs, which can
        // outlast the client's answer: the body still counts until then.
        let kept = Mutex<[GatewayRequest]>([])
        let keeping = ClosureHandler { request in
            kept.withLock { $0.append(request) }
            return GatewayResponse(status: .ok)
        }
        try await withServer(keeping, configure: { $0.maxBufferedBodyBytes = 1000 }) { server, port in
            let client = try await TestClient.connect(port: port)
            try await client.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 700\r\n\r\n" + String(repeating: "a", count: 700))
            #expect(try await client.readResponse(method: .post).status == 200)
            #expect(server.bufferedBodies.inUse == 700)
            try await client.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 700\r\n\r\n")
            #expect(try await client.readResponse(method: .post).status == 503)
            kept.withLock { $0.removeAll() }
            #expect(server.bufferedBodies.inUse == 0)
        }
    }

    @Test func reservationsGrowAndGiveBack() {
        let budget = BufferedBodyBudget(limit: 100)
        var first: BufferedBodyBudget.Reservation? = budget.reserve(60)
        #expect(first != nil)
        #expect(budget.reserve(41) == nil)
        let second = budget.reserve(0)
        #expect(second?.grow(by: 40) == true)
        #expect(second?.grow(by: 1) == false, "a failed growth keeps what it had")
        #expect(second?.size == 40)
        #expect(budget.inUse == 100)
        first = nil
        #expect(budget.inUse == 40)
        _ = first
    }
}
