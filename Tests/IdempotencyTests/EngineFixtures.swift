import GatewayHTTP
import GatewayStore
import HTTPTypes
import Idempotency
import Logging
import Synchronization

/// A wall clock the test drives.
final class TestClock: Sendable {
    private let value = Atomic<Int64>(1_700_000_000_000)

    var now: Timestamp { value.load(ordering: .relaxed) }
    func advance(milliseconds: Int64) { value.wrappingAdd(milliseconds, ordering: .relaxed) }
    func advance(seconds: Int64) { advance(milliseconds: seconds * 1000) }
    var closure: @Sendable () -> Timestamp { { self.now } }
}

/// A gate a backend waits on until the test opens it.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A backend that counts its calls, records the requests it saw, and answers with `respond`.
final class TestBackend: HTTPHandler {
    private let calls = Atomic<Int>(0)
    private let seen = Mutex<[GatewayRequest]>([])
    private let respond: @Sendable (Int, GatewayRequest) async throws -> GatewayResponse

    /// `respond` gets the 1-based call number.
    init(_ respond: @escaping @Sendable (Int, GatewayRequest) async throws -> GatewayResponse) {
        self.respond = respond
    }

    /// A backend answering `201 Created` with a body naming the call.
    convenience init() {
        self.init { call, _ in TestBackend.created("order-\(call)") }
    }

    var callCount: Int { calls.load(ordering: .relaxed) }
    var requests: [GatewayRequest] { seen.withLock { $0 } }

    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        let call = calls.wrappingAdd(1, ordering: .relaxed).newValue
        seen.withLock { $0.append(request) }
        return try await respond(call, request)
    }

    static func created(_ body: String) -> GatewayResponse {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.location] = "/orders/1"
        return GatewayResponse(status: .created, headerFields: fields, body: Array(#"{"id":"\#(body)"}"#.utf8))
    }
}

/// Builds a request; `key` nil sends no `Idempotency-Key`.
func makeRequest(
    method: HTTPRequest.Method = .post, path: String = "/orders", key: String? = "abc-123",
    body: String = #"{"amount":10}"#, headers: [(HTTPField.Name, String)] = []
) -> GatewayRequest {
    var fields = HTTPFields()
    fields[.contentType] = "application/json"
    if let key { fields.append(HTTPField(name: IdempotencyHeaders.idempotencyKey, value: key)) }
    for (name, value) in headers { fields.append(HTTPField(name: name, value: value)) }
    let head = HTTPRequest(method: method, scheme: "http", authority: "localhost", path: path, headerFields: fields)
    return GatewayRequest(head: head, body: Array(body.utf8))
}

/// An engine over a fresh test store, backend and clock.
struct Harness {
    let store: TestKeyStore
    let backend: TestBackend
    let clock: TestClock
    let engine: IdempotencyEngine
    /// The engine's metrics, per harness (not the process-wide factory).
    let metrics = RecordingMetrics()

    init(
        configuration: IdempotencyConfiguration = IdempotencyConfiguration(),
        store: TestKeyStore = TestKeyStore(),
        backend: TestBackend = TestBackend()
    ) {
        self.store = store
        self.backend = backend
        let clock = TestClock()
        self.clock = clock
        var logger = Logger(label: "idempotency-tests")
        logger.logLevel = .critical
        engine = IdempotencyEngine(
            configuration: configuration, store: store, next: backend, wallClock: clock.closure, logger: logger,
            metricsFactory: metrics)
    }

    func send(_ request: GatewayRequest = makeRequest()) async -> (GatewayResponse, IdempotencyOutcome) {
        await engine.process(request)
    }
}

extension GatewayResponse {
    var bodyString: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: HTTPField.Name) -> String? { head.headerFields[name] }
}

