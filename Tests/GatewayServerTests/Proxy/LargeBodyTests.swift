import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Synchronization
import Testing
import TestSupport

@Suite("Reverse proxy: large bodies")
struct ProxyLargeBodyTests {
    /// 50 MB up and the same 50 MB back through the streaming proxy, checksummed at the upstream and the client.
    @Test func fiftyMegabytesBothWays() async throws {
        let size = 50 * 1024 * 1024
        let payload = patternBytes(size)
        let expected = await fnv1aOffPool(payload)
        let seenAtUpstream = Mutex<(count: Int, checksum: UInt64)?>(nil)
        let limits = HTTPLimits(maxBodySize: 64 * 1024 * 1024)
        try await withRecordingUpstream(configure: { $0.limits = limits }, respond: { request in
            let checksum = await fnv1aOffPool(request.body)
            seenAtUpstream.withLock { $0 = (request.body.count, checksum) }
            var fields = HTTPFields()
            fields[.contentType] = "application/octet-stream"
            return GatewayResponse(status: .ok, headerFields: fields, body: request.body)  // echo
        }) { upstream in
            try await withGateway(to: upstream.address, server: { $0.limits = limits }) { gateway in
                let client = try await gateway.connect()
                let head = "PUT /blob HTTP/1.1\r\nHost: big.test\r\nContent-Type: application/octet-stream\r\nContent-Length: \(size)\r\n\r\n"
                try await client.send(Array(head.utf8))
                // Send while reading, as a real client would. The gateway streams both ways (only the body limit
                // is raised): the request body goes upstream as it arrives, the echo comes back as it arrives.
                async let sent: Void = client.send(payload)
                let response = try await client.readResponse(method: .put, timeout: .seconds(60))
                try await sent
                #expect(response.status == 200)
                #expect(response.header("Content-Length") == "\(size)")
                #expect(response.body.count == size)
                #expect(await fnv1aOffPool(response.body) == expected)
                let upstreamSaw = try #require(seenAtUpstream.withLock { $0 })
                #expect(upstreamSaw.count == size)
                #expect(upstreamSaw.checksum == expected)
            }
        }
    }
}
