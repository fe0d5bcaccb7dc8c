// The embedded gateway's life cycle as a test suite sees it.
import IdempotencyGateway
import TestSupport
import Testing

@Suite("Gateway life cycle")
struct GatewayLifecycleTests {
    @Test func shutdownKeepsToTheGracePeriodWhenAHandlerNeverReturns() async throws {
        var configuration = GatewayConfiguration.embedded
        configuration.server.shutdownGrace = .milliseconds(300)
        let gate = TestGate()
        let gateway = try await Gateway.start(configuration: configuration) { _ in
            await gate.wait()
            return GatewayResponse(status: .ok)
        }
        defer { gate.open() }
        let client = try await TestClient.connect(port: gateway.port)
        try await client.send("POST /orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\r\nContent-Length: 2\r\n\r\n{}")
        #expect(await eventually { gateway.engine.inFlightCount == 1 })
        let start = ContinuousClock.now
        await gateway.shutdown()
        // 300 ms of grace and at most a second for the abandoned connection, not upstream.timeout (30 s) twice.
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(await client.isClosedByPeer(within: .seconds(2)))
    }

    @Test func theEmbeddedDefaultsNeedNoPortsNorFiles() async throws {
        let first = try await Gateway.start(configuration: .embedded) { _ in GatewayResponse(status: .ok) }
        let second = try await Gateway.start(configuration: .embedded) { _ in GatewayResponse(status: .ok) }
        #expect(first.port != second.port)
        #expect(first.adminPort == nil)
        #expect(first.configuration.store.path == ":memory:")
        await first.shutdown()
        await second.shutdown()
    }

    @Test func aConfigurationThatWouldBreakTheGuaranteesIsRefusedAtStart() async throws {
        var configuration = GatewayConfiguration.embedded
        configuration.idempotency.lease = .zero
        configuration.idempotency.routes = [.init(pathPrefix: "v1/payments", methods: ["NOT A METHOD"])]
        configuration.server.maxBufferedBodyBytes = configuration.server.maxBodyBytes - 1
        let error = await #expect(throws: ConfigurationError.self) {
            _ = try await Gateway.start(configuration: configuration) { _ in GatewayResponse(status: .ok) }
        }
        let keys = error?.problems.map(\.key) ?? []
        #expect(keys.contains("idempotency.lease"))
        #expect(keys.contains("idempotency.routes[0].path-prefix"))
        #expect(keys.contains("idempotency.routes[0].methods"))
        #expect(keys.contains("server.max-buffered-body-bytes"))
    }

    @Test func aPortInUseIsNamedInTheError() async throws {
        let first = try await Gateway.start(configuration: .embedded) { _ in GatewayResponse(status: .ok) }
        var configuration = GatewayConfiguration.embedded
        configuration.listen = HostPort(host: "127.0.0.1", port: first.port)
        let error = await #expect(throws: SocketError.self) {
            _ = try await Gateway.start(configuration: configuration) { _ in GatewayResponse(status: .ok) }
        }
        #expect(error?.description.hasPrefix("bind to 127.0.0.1:\(first.port) failed") == true)
        await first.shutdown()
    }
}
