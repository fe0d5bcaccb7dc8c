// Embedding the gateway in a test suite: an in-process backend behind a real gateway on a free port.
import IdempotencyGateway
import TestSupport
import Testing

/// Counts backend calls.
actor CallCounter {
    private(set) var count = 0
    func increment() { count += 1 }
}

@Test("a retried POST with the same Idempotency-Key runs the backend once")
func retriedPostRunsTheBackendOnce() async throws {
    let calls = CallCounter()
    // A free loopback port, no admin listener, an in-memory store.
    let gateway = try await Gateway.start(configuration: .embedded) { request in
        await calls.increment()
        return GatewayResponse(status: .created, body: Array("order 1".utf8))
    }

    let request = "POST /orders HTTP/1.1\r\nHost: localhost\r\nIdempotency-Key: order-1\r\nContent-Length: 2\r\n\r\n{}"
    var responses: [TestClient.Response] = []
    for _ in 0..<2 {
        let client = try await TestClient.connect(port: gateway.port)
        try await client.send(request)
        responses.append(try await client.readResponse(method: .post))
    }
    await gateway.shutdown()

    #expect(await calls.count == 1)
    #expect(responses.map(\.status) == [201, 201])
    #expect(responses[1].header("Idempotent-Replayed") == "true")
    #expect(responses[1].text == "order 1")
}
