import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Testing
import TestSupport

@Suite("Reverse proxy: descriptor hygiene")
struct ProxyDescriptorTests {
    /// Successful, failed, timed-out and refused exchanges through three gateways; once everything is shut
    /// down, no socket touching any of their ports is left open in this process.
    ///
    /// Counting only sockets on this test's ports (not ``openDescriptorCount()``) keeps the check exact while
    /// other suites open and close descriptors in parallel.
    @Test func noSocketIsLeftOpenAfterShutdown() async throws {
        var ports: Set<UInt16> = []
        var deadPort: DeadPort? = try ProxyUpstreamFailureTests.deadPort()
        let dead = deadPort!.address
        ports.insert(dead.port)
        try await withRecordingUpstream(respond: ProxyForwardingTests.replying) { good in
            ports.insert(good.address.port)
            try await withScriptedUpstream(script: ProxyUpstreamFailureTests.misbehaving) { bad in
                ports.insert(bad.port)
                try await withGateway(to: good.address) { toGood in
                    try await withGateway(to: bad.address, upstream: { $0.responseTimeout = .seconds(1) }) { toBad in
                        try await withGateway(to: dead) { toDead in
                            ports.formUnion([toGood.port, toBad.port, toDead.port])
                            try await Self.traffic(good: toGood, bad: toBad, dead: toDead)
                            #expect(openTCPSocketCount(ports: ports) > 0, "the socket table sees nothing: the check would be blind")
                        }
                    }
                }
            }
        }
        deadPort = nil  // the held dead port is not one of the gateway's sockets
        let allPorts = ports
        #expect(await eventually { openTCPSocketCount(ports: allPorts) == 0 }, "\(openTCPSocketCount(ports: allPorts)) sockets left")
    }

    static func traffic(good: GatewayUnderTest, bad: GatewayUnderTest, dead: GatewayUnderTest) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<16 {
                group.addTask {
                    let client = try await good.connect()
                    defer { client.close() }
                    for i in 0..<10 {
                        try await client.send("POST /d/\(lane)/\(i) HTTP/1.1\r\nHost: d.test\r\nContent-Length: 2\r\n\r\nhi")
                        #expect(try await client.readResponse(method: .post).status == 200)
                    }
                }
            }
            group.addTask {
                let client = try await bad.connect()
                defer { client.close() }
                for path in ["/cut-body", "/ok", "/slow", "/garbage", "/reset", "/ok"] {
                    try await client.send("GET \(path) HTTP/1.1\r\nHost: d.test\r\n\r\n")
                    let status = try await client.readResponse().status
                    #expect(status == (path == "/ok" ? 200 : path == "/slow" ? 504 : 502), "\(path)")
                }
            }
            group.addTask {
                for _ in 0..<5 {
                    let client = try await dead.connect()
                    defer { client.close() }
                    try await client.send("GET / HTTP/1.1\r\nHost: d.test\r\n\r\n")
                    #expect(try await client.readResponse().status == 502)
                }
            }
            // Clients that hang up mid-request and mid-exchange.
            group.addTask {
                for _ in 0..<5 {
                    let client = try await good.connect()
                    try await client.send("POST /abandoned HTTP/1.1\r\nHost: d.test\r\nContent-Length: 10\r\n\r\nabc")
                    client.close()
                }
            }
            try await group.waitForAll()
        }
    }
}
