#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import GatewayHTTP
import GatewaySockets
import Synchronization

/// A raw upstream server for proxy tests: every accepted connection runs `script`, which reads requests and
/// writes whatever bytes the test wants (interim responses, close-delimited or chunked bodies, garbage,
/// half a response, nothing at all…). It counts accepted and finished connections and records every request.
public final class ScriptedUpstream: Sendable {
    /// A request as the upstream decoded it, with the index of the connection it arrived on (0 = first accepted).
    public struct Received: Sendable {
        public var head: RequestHead
        public var body: [UInt8]
        public var connection: Int
        public var path: String { head.request.path ?? "" }
    }

    /// The bound address (port chosen by the kernel).
    public let address: SocketAddress
    public var port: UInt16 { address.port }
    private let listener: Listener
    private let shared: Shared

    final class Shared: Sendable {
        struct State {
            var accepted = 0
            var finished = 0
            var open: [Int: ScriptedConnection] = [:]
            /// The scripts' tasks, cancelled by ``ScriptedUpstream/stop()`` (a script sleeping to keep a connection
            /// open then returns at once).
            var scripts: [Int: Task<Void, Never>] = [:]
            var requests: [Received] = []
            var scriptErrors: [String] = []
        }
        let state = Mutex(State())
    }

    /// Listens on `host`:0 and starts accepting. - Parameter limits: the request decoder's limits.
    public init(
        host: String = "127.0.0.1", limits: HTTPLimits = HTTPLimits(maxBodySize: 64 * 1024 * 1024),
        script: @escaping @Sendable (ScriptedConnection) async throws -> Void
    ) throws {
        let shared = Shared()
        self.shared = shared
        listener = try Listener(
            address: try SocketAddress(ip: host, port: 0), queue: DispatchQueue(label: "scripted-upstream")
        ) { socket, peer in
            let asyncSocket = AsyncSocket(socket: socket, peer: peer, loop: IOLoopGroup.shared.next())
            let connection: ScriptedConnection = shared.state.withLock { state in
                let connection = ScriptedConnection(
                    socket: asyncSocket, index: state.accepted,
                    limits: limits, shared: shared)
                state.open[state.accepted] = connection
                state.accepted += 1
                return connection
            }
            let task = Task {
                do {
                    try await script(connection)
                } catch is CancellationError {
                    // Stopped by the test (stop()).
                } catch {
                    shared.state.withLock { $0.scriptErrors.append("connection \(connection.index): \(error)") }
                }
                connection.close()
                shared.state.withLock { state in
                    state.open[connection.index] = nil
                    state.scripts[connection.index] = nil
                    state.finished += 1
                }
            }
            shared.state.withLock { state in
                if state.open[connection.index] != nil { state.scripts[connection.index] = task }
            }
        }
        address = listener.address
        listener.start()
    }

    /// Connections accepted so far.
    public var acceptedCount: Int { shared.state.withLock { $0.accepted } }
    /// Connections whose script has returned (and which are closed).
    public var finishedCount: Int { shared.state.withLock { $0.finished } }
    /// Every request read by a script, in arrival order.
    public var requests: [Received] { shared.state.withLock { $0.requests } }
    /// Errors thrown by scripts (a script that fails is a test bug, or a gateway that misbehaved).
    public var scriptErrors: [String] { shared.state.withLock { $0.scriptErrors } }

    /// Stops accepting, closes every open connection and waits (up to 5 s) for every script to return.
    public func stop() async {
        listener.stop()
        let (open, scripts) = shared.state.withLock { (Array($0.open.values), Array($0.scripts.values)) }
        for script in scripts { script.cancel() }
        for connection in open { connection.close() }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, shared.state.withLock({ $0.finished < $0.accepted }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// A script that answers every request on the connection with `response(request)` (raw bytes),
    /// keeping the connection open until the gateway closes it.
    public static func answering(
        _ response: @escaping @Sendable (Received) -> String
    ) -> @Sendable (ScriptedConnection) async throws -> Void {
        { connection in
            while let request = try await connection.readRequest(timeout: .seconds(30)) {
                try await connection.write(response(request))
            }
        }
    }
}

/// One accepted connection of a ``ScriptedUpstream``.
public final class ScriptedConnection: Sendable {
    public let socket: AsyncSocket
    /// 0 for the first connection the upstream accepted, 1 for the next…
    public let index: Int
    private let decoder: Mutex<HTTPRequestDecoder>
    private let shared: ScriptedUpstream.Shared

    init(socket: AsyncSocket, index: Int, limits: HTTPLimits, shared: ScriptedUpstream.Shared) {
        self.socket = socket
        self.index = index
        self.decoder = Mutex(HTTPRequestDecoder(limits: limits))
        self.shared = shared
    }

    /// Reads one complete request (and records it); nil when the peer closed (or the socket was closed) between
    /// requests. Throws on a malformed request, a timeout, or EOF inside a request.
    public func readRequest(timeout: Duration = .seconds(10)) async throws -> ScriptedUpstream.Received? {
        let deadline = ContinuousClock.now + timeout
        var head: RequestHead?
        var body: [UInt8] = []
        while true {
            while true {
                let next: RequestEvent? = try decoder.withLock { decoder throws(HTTPParseError) in try decoder.next() }
                guard let event = next else { break }
                switch event {
                case .head(let parsed): head = parsed
                case .rawHead(let raw): head = try raw.materialize()
                case .body(let chunk): body += chunk
                case .end:
                    guard let head else { continue }
                    let received = ScriptedUpstream.Received(head: head, body: body, connection: index)
                    shared.state.withLock { $0.requests.append(received) }
                    return received
                }
            }
            let count: Int
            do {
                count = try await socket.read(deadline: deadline) { bytes in decoder.withLock { $0.append(bytes) } }
            } catch {
                guard error == .closed || error == .disconnected else { throw error }
                count = 0
            }
            if count == 0 {
                if head == nil, decoder.withLock({ $0.isIdle }) { return nil }
                throw ScriptedUpstreamError.closedInsideRequest
            }
        }
    }

    /// Waits until the peer closes the connection (or `timeout` passes), discarding anything it sends.
    /// Returns true when the peer closed.
    @discardableResult
    public func waitForPeerClose(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        do {
            while try await socket.read(deadline: deadline, { _ in }) > 0 {}
            return true
        } catch SocketError.timeout {
            return false
        } catch {
            return true
        }
    }

    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    public func write(_ bytes: [UInt8]) async throws {
        try await socket.write(bytes, stallTimeout: .seconds(10))
    }

    /// Closes the connection normally (FIN).
    public func close() {
        socket.close()
    }

    /// Closes the connection with a TCP reset (`SO_LINGER` 0), as a crashed or impatient upstream would.
    public func reset() {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(socket.socket.descriptor, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        socket.close()
    }
}

public enum ScriptedUpstreamError: Error {
    case closedInsideRequest
}
