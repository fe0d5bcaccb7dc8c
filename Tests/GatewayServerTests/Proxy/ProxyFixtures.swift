import Dispatch
import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Synchronization
import TestSupport

/// An upstream made of a real ``HTTPServer`` whose handler records every request and answers with `respond`.
final class RecordingUpstream: Sendable {
    let server: HTTPServer
    private let log = RequestLog()

    private final class RequestLog: Sendable {
        let requests = Mutex<[GatewayRequest]>([])
    }

    init(
        host: String = "127.0.0.1", configure: (inout ServerConfiguration) -> Void = { _ in },
        respond: @escaping @Sendable (GatewayRequest) async throws -> GatewayResponse
    ) throws {
        let log = self.log
        var configuration = ServerConfiguration(address: try SocketAddress(ip: host, port: 0))
        configure(&configuration)
        server = HTTPServer(
            configuration: configuration,
            handler: ClosureHandler { request in
                log.requests.withLock { $0.append(request) }
                return try await respond(request)
            })
        try server.start()
    }

    var address: SocketAddress { server.address! }
    var requests: [GatewayRequest] { log.requests.withLock { $0 } }
    var last: GatewayRequest? { log.requests.withLock { $0.last } }
}

/// Starts a ``RecordingUpstream``, runs `body`, shuts it down.
func withRecordingUpstream<R>(
    host: String = "127.0.0.1", configure: (inout ServerConfiguration) -> Void = { _ in },
    respond: @escaping @Sendable (GatewayRequest) async throws -> GatewayResponse,
    _ body: (RecordingUpstream) async throws -> R
) async throws -> R {
    let upstream = try RecordingUpstream(host: host, configure: configure, respond: respond)
    do {
        let result = try await body(upstream)
        await upstream.server.shutdown(gracePeriod: .seconds(1))
        return result
    } catch {
        await upstream.server.shutdown(gracePeriod: .seconds(1))
        throw error
    }
}

/// Starts a ``ScriptedUpstream``, runs `body`, stops it; the test fails if a script threw.
func withScriptedUpstream<R>(
    host: String = "127.0.0.1",
    script: @escaping @Sendable (ScriptedConnection) async throws -> Void,
    _ body: (ScriptedUpstream) async throws -> R
) async throws -> R {
    let upstream = try ScriptedUpstream(host: host, script: script)
    do {
        let result = try await body(upstream)
        await upstream.stop()
        return result
    } catch {
        await upstream.stop()
        throw error
    }
}

/// The gateway under test: an ``HTTPServer`` whose handler is a ``ReverseProxyBackend``.
struct GatewayUnderTest {
    let server: HTTPServer
    let backend: ReverseProxyBackend
    var port: UInt16 { server.address!.port }

    func connect() async throws -> TestClient {
        try await TestClient.connect(port: port, host: server.address!.host)
    }
}

/// Starts a gateway proxying to `upstream`, runs `body`, then shuts the gateway down and closes the pooled
/// upstream connections.
func withGateway<R>(
    to upstream: SocketAddress,
    host: String = "127.0.0.1",
    upstream configureUpstream: (inout UpstreamConfiguration) -> Void = { _ in },
    server configureServer: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (GatewayUnderTest) async throws -> R
) async throws -> R {
    var upstreamConfiguration = UpstreamConfiguration(address: upstream)
    configureUpstream(&upstreamConfiguration)
    let backend = ReverseProxyBackend(configuration: upstreamConfiguration)
    var configuration = ServerConfiguration(address: try SocketAddress(ip: host, port: 0))
    configureServer(&configuration)
    let server = HTTPServer(configuration: configuration, handler: backend)
    try server.start()
    let gateway = GatewayUnderTest(server: server, backend: backend)
    do {
        let result = try await body(gateway)
        await server.shutdown(gracePeriod: .seconds(2))
        backend.client.close()
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(2))
        backend.client.close()
        throw error
    }
}

/// The `name: value` pairs of `fields` whose name is in `names` (case-insensitive), in order.
func pairs(_ fields: HTTPFields, named names: Set<String>) -> [String] {
    fields.filter { names.contains($0.name.canonicalName) }.map { "\($0.name.rawName): \($0.value)" }
}

/// Lower-case names of all fields.
func names(_ fields: HTTPFields) -> Set<String> {
    Set(fields.map(\.name.canonicalName))
}

/// 64-bit FNV-1a over bytes; for large buffers, whole 8-byte words at a time (a checksum, cheap in debug builds).
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBytes { raw in
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let words = raw.count / 8
        for index in 0..<words {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) &* 0x0000_0100_0000_01b3
        }
        for index in (words * 8)..<raw.count {
            hash = (hash ^ UInt64(raw[index])) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}

/// ``fnv1a(_:)`` computed on a Dispatch queue, so tens of megabytes do not hold a cooperative thread (other
/// tests' tasks, and the servers under test, need them meanwhile).
func fnv1aOffPool(_ bytes: [UInt8]) async -> UInt64 {
    await offPool { fnv1a(bytes) }
}

/// `count` bytes of a deterministic, non-repeating-looking pattern (every 64 KiB block is stamped with its
/// number, so a reordered or duplicated block changes the checksum).
func patternBytes(_ count: Int) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 65536)
    var state: UInt32 = 0x1234_5678
    for index in block.indices {
        state = state &* 1_664_525 &+ 1_013_904_223
        block[index] = UInt8(truncatingIfNeeded: state >> 24)
    }
    var out: [UInt8] = []
    out.reserveCapacity(count)
    var number: UInt32 = 0
    while out.count < count {
        let take = min(block.count, count - out.count)
        let start = out.count
        out.append(contentsOf: block[0..<take])
        withUnsafeBytes(of: number.littleEndian) { stamp in
            for offset in 0..<min(4, take) { out[start + offset] = stamp[offset] }
        }
        number += 1
    }
    return out
}

extension TestClient.Response {
    /// Lower-case names of the response's fields.
    var fieldNames: Set<String> { names(head.response.headerFields) }
}
