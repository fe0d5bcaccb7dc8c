// The admin listener's own connection limit, `admin.max-connections`, over real sockets.
import IdempotencyGateway
import TestSupport
import Testing

@Suite("Admin: connection limit")
struct AdminConnectionLimitTests {
    /// With `admin.max-connections` admin connections open, a new one gets the overload `503` and is closed; one
    /// closing makes room again. The client listener is not held to it.
    @Test func connectionsBeyondTheAdminLimitGet503() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.admin.maxConnections = 2
        try await withGateway(configuration, backend: RecordingBackend()) { gateway in
            let port = try #require(gateway.adminPort)
            // Two keep-alive connections, each answered once, so both are open on the admin listener.
            var held: [TestClient] = []
            defer { for client in held { client.close() } }
            for _ in 0..<2 {
                let client = try await TestClient.connect(port: port)
                held.append(client)
                try await client.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                #expect(try await client.readResponse().status == 200)
            }
            let refused = try await TestClient.connect(port: port)
            let answer = String(decoding: try await refused.readUntilClose(), as: UTF8.self)
            refused.close()
            #expect(answer.hasPrefix("HTTP/1.1 503"))
            #expect(answer.contains("\r\nRetry-After: 1\r\n"))
            // The client listener has its own limit (server.max-connections).
            #expect(try await send("GET", "/x", port: gateway.port).status == 201)
            // Once one admin connection closes, a new one is served.
            held.removeFirst().close()
            #expect(await eventually { (try? await admin("/healthz", gateway: gateway).status) == 200 })
        }
    }
}
