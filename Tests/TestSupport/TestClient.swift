import Dispatch
import GatewayHTTP
import GatewaySockets
import HTTPTypes

/// A raw HTTP/1.1 test client on a real socket: sends exactly the bytes it is given and decodes what comes back.
public final class TestClient: Sendable {
    public let socket: AsyncSocket

    /// A decoded response.
    public struct Response: Sendable {
        public var head: ResponseHead
        public var body: [UInt8]
        public var status: Int { head.response.status.code }
        public var text: String { String(decoding: body, as: UTF8.self) }
        public func header(_ name: String) -> String? { head.response.headerFields[HTTPField.Name(name)!] }
    }

    public static func connect(port: UInt16, host: String = "127.0.0.1") async throws -> TestClient {
        let address = try SocketAddress(ip: host, port: port)
        let socket = try await AsyncSocket.connect(to: address, deadline: .now + .seconds(5), loop: IOLoopGroup.shared.next())
        return TestClient(socket: socket)
    }

    init(socket: AsyncSocket) {
        self.socket = socket
    }

    deinit { socket.close() }

    public func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) async throws {
        try await socket.write(bytes, stallTimeout: .seconds(10))
    }

    /// Reads `count` responses (answers to requests with `methods`, GET by default).
    public func readResponses(_ count: Int, methods: [HTTPRequest.Method]? = nil, timeout: Duration = .seconds(10)) async throws -> [Response] {
        var decoder = HTTPResponseDecoder(limits: HTTPLimits(maxBodySize: Int.max))
        var responses: [Response] = []
        var head: ResponseHead?
        var body: [UInt8] = []
        var eof = false
        let deadline = ContinuousClock.now + timeout
        decoder.expectResponse(to: methods?.first ?? .get)
        while responses.count < count {
            while let event = eof ? try decoder.finish() : try decoder.next() {
                switch event {
                case .informational: break
                case .head(let parsed): head = parsed
                case .rawHead(let raw): head = try raw.materialize()
                case .body(let chunk): body += chunk
                case .end:
                    responses.append(Response(head: head!, body: body))
                    body = []
                    head = nil
                    let index = responses.count
                    if let methods, index < methods.count { decoder.expectResponse(to: methods[index]) } else { decoder.expectResponse(to: .get) }
                }
                if responses.count == count { return responses }
            }
            if eof { throw TestClientError.closedEarly(received: responses.count) }
            let n = try await socket.read(deadline: deadline) { decoder.append($0) }
            if n == 0 { eof = true }
        }
        return responses
    }

    public func readResponse(method: HTTPRequest.Method = .get, timeout: Duration = .seconds(10)) async throws -> Response {
        try await readResponses(1, methods: [method], timeout: timeout)[0]
    }

    /// Reads until the server closes the connection; returns everything received.
    public func readUntilClose(timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        var all: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while try await socket.read(deadline: deadline, { all += $0 }) > 0 {}
        return all
    }

    /// Reads and discards at least `count` bytes (the start of a long response the test then abandons).
    /// - Throws: ``TestClientError/closedEarly(received:)`` when the server closes first; a timeout.
    public func discard(atLeast count: Int, timeout: Duration = .seconds(10)) async throws {
        var got = 0
        let deadline = ContinuousClock.now + timeout
        while got < count {
            let read = try await socket.read(deadline: deadline) { _ in }
            if read == 0 { throw TestClientError.closedEarly(received: 0) }
            got += read
        }
    }

    /// What arrives within `timeout` (empty when nothing did), in one read at most; nil when the server closed the
    /// connection.
    public func readAvailable(within timeout: Duration) async throws -> [UInt8]? {
        var bytes: [UInt8] = []
        do {
            if try await socket.read(deadline: .now + timeout, { bytes += $0 }) == 0 { return nil }
        } catch .timeout {
            return []
        }
        return bytes
    }

    /// True when the server closed the connection (EOF) within `timeout`.
    public func isClosedByPeer(within timeout: Duration) async -> Bool {
        do {
            let deadline = ContinuousClock.now + timeout
            while try await socket.read(deadline: deadline, { _ in }) > 0 {}
            return true
        } catch SocketError.disconnected {
            return true
        } catch {
            return false
        }
    }

    public func close() { socket.close() }
}

public enum TestClientError: Error {
    case closedEarly(received: Int)
}
