// Helpers for the end-to-end tests: fresh store directories, test configurations, an embedded gateway's life
// cycle, a raw-socket request helper, and a backend that records what reached it.
import Foundation
import IdempotencyGateway
import Logging
import Synchronization
import TestSupport
import Testing

/// A fresh directory under the system temporary directory, removed by ``remove()``.
struct ScratchDirectory {
    let url: URL

    init(_ name: String = "h5") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// `name` inside the directory.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

extension GatewayConfiguration {
    /// A configuration for tests: client and admin listeners on 127.0.0.1 port 0, a real SQLite file in
    /// `directory`, a short shutdown grace, quiet logs. swift-metrics can be bootstrapped only once per process,
    /// so every test gateway uses the same admin setting (on) unless a test says otherwise.
    static func forTesting(in directory: ScratchDirectory, admin: Bool = true) -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.listen = HostPort(host: "127.0.0.1", port: 0)
        configuration.admin.listen = admin ? HostPort(host: "127.0.0.1", port: 0) : nil
        configuration.store.path = directory.path("store.sqlite")
        configuration.server.shutdownGrace = .seconds(1)
        configuration.upstream.timeout = .seconds(10)
        configuration.log.level = .warning
        return configuration
    }
}

/// A logger that only reports problems (the access log would print a line per request).
let quietLogger: Logger = {
    var logger = Logger(label: "idempotency-gateway.test")
    logger.logLevel = .warning
    return logger
}()

/// Starts a gateway (sharing ``TrafficLock``), runs `body`, and shuts the gateway down even when `body` throws.
func withGateway<R>(
    _ configuration: GatewayConfiguration,
    backend: (any HTTPHandler)? = nil,
    _ body: (Gateway) async throws -> R
) async throws -> R {
    try await TrafficLock.shared.sharing {
        let gateway = try await Gateway.start(configuration: configuration, backend: backend, logger: quietLogger)
        do {
            let result = try await body(gateway)
            await gateway.shutdown()
            return result
        } catch {
            await gateway.shutdown()
            throw error
        }
    }
}

/// Sends one request on a new connection and reads its response.
///
/// `Host`, and `Content-Length` when there is a body or the method usually has one, are added.
func send(
    _ method: String = "POST", _ path: String = "/orders", port: UInt16, headers: [(String, String)] = [],
    body: String = ""
) async throws -> TestClient.Response {
    let client = try await TestClient.connect(port: port)
    defer { client.close() }
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) { text += "Content-Length: \(body.utf8.count)\r\n" }
    text += "\r\n" + body
    try await client.send(text)
    return try await client.readResponse(method: HTTPRequest.Method(method) ?? .get)
}

/// A POST to `path` with an `Idempotency-Key` (sent as given, so tests can send malformed values).
func post(
    port: UInt16, key: String?, body: String = #"{"amount":42}"#, path: String = "/orders",
    headers: [(String, String)] = []
) async throws -> TestClient.Response {
    var fields = [("Content-Type", "application/json")]
    if let key { fields.append(("Idempotency-Key", key)) }
    return try await send("POST", path, port: port, headers: fields + headers, body: body)
}

/// A backend that records every request it gets and answers with `respond` (by default `201` with a body that
/// names the call, a `Location` and a `Set-Cookie`). ``hold()`` makes calls wait until ``release()``.
final class RecordingBackend: HTTPHandler {
    private struct State {
        var requests: [GatewayRequest] = []
        var holding = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let respond: @Sendable (GatewayRequest, Int) -> GatewayResponse

    init(respond: @escaping @Sendable (GatewayRequest, Int) -> GatewayResponse = RecordingBackend.created) {
        self.respond = respond
    }

    /// `201 Created`, `Location: /orders/<n>`, `Set-Cookie`, and a JSON body naming call `n`.
    static func created(_ request: GatewayRequest, _ call: Int) -> GatewayResponse {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.location] = "/orders/\(call)"
        fields[.setCookie] = "session=secret-\(call); HttpOnly"
        let body = #"{"order":\#(call),"bytes":\#(request.body.count)}"#
        return GatewayResponse(status: .created, headerFields: fields, body: Array(body.utf8))
    }

    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        let call = state.withLock { state in
            state.requests.append(request)
            return state.requests.count
        }
        await waitWhileHeld()
        return respond(request, call)
    }

    /// Requests received so far.
    var requests: [GatewayRequest] { state.withLock { $0.requests } }
    /// How many times the backend ran.
    var calls: Int { state.withLock { $0.requests.count } }

    /// Later calls wait until ``release()``.
    func hold() { state.withLock { $0.holding = true } }

    /// Lets waiting and later calls answer.
    func release() {
        let waiters = state.withLock { state in
            state.holding = false
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func waitWhileHeld() async {
        await withCheckedContinuation { continuation in
            let held = state.withLock { state in
                if state.holding { state.waiters.append(continuation) }
                return state.holding
            }
            if !held { continuation.resume() }
        }
    }
}

/// Counters are process-wide, so a test that asserts exact metric deltas runs alone (``exclusive(_:)``) while
/// every other gateway in this target runs under ``sharing(_:)``. Readers are preferred, so nested sharing (a
/// test that runs two gateways) cannot deadlock against a waiting writer.
final class TrafficLock: Sendable {
    static let shared = TrafficLock()

    private struct State {
        var readers = 0
        var writer = false
        var waitingReaders: [CheckedContinuation<Void, Never>] = []
        var waitingWriters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func sharing<R>(_ body: () async throws -> R) async throws -> R {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state in
                if state.writer {
                    state.waitingReaders.append(continuation)
                    return false
                }
                state.readers += 1
                return true
            }
            if granted { continuation.resume() }
        }
        defer { releaseShared() }
        return try await body()
    }

    func exclusive<R>(_ body: () async throws -> R) async throws -> R {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state in
                if state.writer || state.readers > 0 {
                    state.waitingWriters.append(continuation)
                    return false
                }
                state.writer = true
                return true
            }
            if granted { continuation.resume() }
        }
        defer { releaseExclusive() }
        return try await body()
    }

    private func releaseShared() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.readers -= 1
            guard state.readers == 0, !state.waitingWriters.isEmpty else { return nil }
            state.writer = true
            return state.waitingWriters.removeFirst()
        }
        next?.resume()
    }

    private func releaseExclusive() {
        let (writer, readers) = state.withLock { state -> (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) in
            if !state.waitingReaders.isEmpty {
                state.writer = false
                state.readers += state.waitingReaders.count
                defer { state.waitingReaders = [] }
                return (nil, state.waitingReaders)
            }
            if !state.waitingWriters.isEmpty { return (state.waitingWriters.removeFirst(), []) }
            state.writer = false
            return (nil, [])
        }
        writer?.resume()
        for reader in readers { reader.resume() }
    }
}

extension TestClient.Response {
    /// The body parsed as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }
}
