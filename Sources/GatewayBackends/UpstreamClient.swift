import Dispatch
import GatewayHTTP
import GatewaySockets
import HTTPTypes

/// An HTTP/1.1 client for one upstream, with a keep-alive connection pool.
///
/// It reuses the gateway's own codec (``HTTPEncoder``, ``HTTPResponseDecoder``). A request is retried on a fresh
/// connection only when nothing of it was sent: the pooled connection turned out to be closed by the upstream
/// before the first byte went out. Once any byte was sent, a failure is ``UpstreamError/failed(_:)``.
public final class UpstreamClient: Sendable {
    public let configuration: UpstreamConfiguration
    /// One pool per event loop: a request reuses connections of the loop it runs on, so upstream events
    /// resume it on its own thread.
    private let pools: [ConnectionPool]
    private let loops: IOLoopGroup

    public init(configuration: UpstreamConfiguration, loops: IOLoopGroup = .shared) {
        self.configuration = configuration
        self.loops = loops
        // Rounded up, so that a small positive limit still pools; 0 turns pooling off.
        let perLoop = (max(0, configuration.maxIdleConnections) + loops.loops.count - 1) / loops.loops.count
        self.pools = loops.loops.map { _ in
            ConnectionPool(maxIdle: perLoop, maxAge: configuration.idleConnectionTimeout)
        }
    }

    /// Sends `head` with `body` and returns the complete response.
    /// - Parameter deadline: when to give up waiting for the response (default: now + response timeout).
    public func send(_ head: HTTPRequest, body: [UInt8], deadline: ContinuousClock.Instant? = nil)
        async throws(UpstreamError) -> GatewayResponse
    {
        let deadline = deadline ?? .now + configuration.responseTimeout
        var message: [UInt8] = []
        message.reserveCapacity(512 + (body.count <= 65536 ? body.count : 0))
        let hasBody = !body.isEmpty || head.method == .post || head.method == .put || head.method == .patch
        HTTPEncoder.encodeRequestHead(head, contentLength: hasBody ? body.count : nil, chunked: false, into: &message)
        let inline = body.count <= 65536
        if inline { message.append(contentsOf: body) }

        while true {
            let (socket, reused) = try await connection()
            // First send without waiting: if a reused connection is already dead, nothing was sent → retry.
            let first: Result<IOResult<Int>, SocketError> = message.withUnsafeBytes { bytes in
                Result { () throws(SocketError) in try socket.socket.write(bytes.baseAddress!, count: bytes.count) }
            }
            var written = 0
            switch first {
            case .success(.done(let count)): written = count
            case .success(.wouldBlock): written = 0
            case .failure(let error):
                socket.close()
                if reused, error.isDisconnection { continue }
                throw .unreachable("send failed: \(error)")
            }
            do throws(SocketError) {
                if written < message.count {
                    try await socket.write(Array(message[written...]), stallTimeout: deadline - .now)
                }
                if !inline { try await socket.write(body, stallTimeout: deadline - .now) }
            } catch {
                socket.close()
                throw .failed("sending the request: \(error)")
            }
            return try await readResponse(on: socket, method: head.method, deadline: deadline)
        }
    }

    /// Closes idle pooled connections.
    public func close() {
        for pool in pools { pool.closeAll() }
    }

    /// A pooled connection, or a new one (connect failures are ``UpstreamError/unreachable(_:)``).
    private func connection() async throws(UpstreamError) -> (AsyncSocket, reused: Bool) {
        let loop = loops.currentOrNext()
        if let pooled = pools[loop.index % pools.count].take() { return (pooled, true) }
        do {
            let socket = try await AsyncSocket.connect(
                to: configuration.address, deadline: .now + configuration.connectTimeout, loop: loop)
            return (socket, false)
        } catch {
            throw .unreachable("connect to \(configuration.address): \(error)")
        }
    }

    private func readResponse(on socket: AsyncSocket, method: HTTPRequest.Method, deadline: ContinuousClock.Instant)
        async throws(UpstreamError) -> GatewayResponse
    {
        var decoder = HTTPResponseDecoder()
        decoder.expectResponse(to: method)
        var head: ResponseHead?
        var body: [UInt8] = []
        var eof = false
        while true {
            do throws(HTTPParseError) {
                while let event = eof ? try decoder.finish() : try decoder.next() {
                    switch event {
                    case .informational:
                        continue  // 1xx interim responses (RFC 9110 §15.2) are not relayed
                    case .head(let parsed):
                        head = parsed
                        if case .contentLength(let length) = parsed.framing {
                            guard length <= configuration.maxResponseBodySize else {
                                throw HTTPParseError(status: 502, reason: "response body of \(length) bytes exceeds the limit")
                            }
                            body.reserveCapacity(length)
                        }
                    case .body(let chunk):
                        if body.isEmpty { body = chunk } else { body.append(contentsOf: chunk) }
                        guard body.count <= configuration.maxResponseBodySize else {
                            throw HTTPParseError(status: 502, reason: "response body exceeds \(configuration.maxResponseBodySize) bytes")
                        }
                    case .end(let trailers):
                        guard let head else { continue }
                        if head.keepAlive, !eof, !decoder.hasBufferedBytes {
                            pools[socket.loop.index % pools.count].put(socket)
                        } else {
                            socket.close()
                        }
                        var response = head.response
                        HopByHopHeaders.remove(from: &response.headerFields)
                        _ = trailers
                        return GatewayResponse(head: response, body: body)
                    }
                    if eof { break }
                }
                if eof { throw HTTPParseError(status: 502, reason: "the upstream closed the connection mid-response") }
            } catch {
                socket.close()
                throw .failed("invalid response: \(error.reason)")
            }
            do {
                let count = try await socket.read(deadline: deadline) { decoder.append($0) }
                if count == 0 { eof = true }
            } catch .timeout {
                socket.close()
                throw .timeout
            } catch {
                socket.close()
                throw .failed("reading the response: \(error)")
            }
        }
    }
}

extension UpstreamClient {
    /// True when a TCP connection to the upstream can be opened within the connect timeout (readiness probe).
    public func isReachable() async -> Bool {
        do {
            let socket = try await AsyncSocket.connect(
                to: configuration.address, deadline: .now + configuration.connectTimeout, loop: loops.next())
            socket.close()
            return true
        } catch {
            return false
        }
    }
}
