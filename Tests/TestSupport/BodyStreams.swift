import GatewayHTTP
import GatewaySockets
import HTTPTypes
import Synchronization

/// A body stream over pieces held in memory, for handlers and backends in tests. Records whether it was
/// cancelled and how many pieces were read.
public final class ArrayBodyStream: HTTPBodyStream {
    public let length: Int?
    private let state: Mutex<(pieces: [[UInt8]], read: Int, cancelled: Bool)>

    /// - Parameter announceLength: whether ``length`` tells the total (like `Content-Length`) or is nil.
    public init(_ pieces: [[UInt8]], announceLength: Bool) {
        length = announceLength ? pieces.reduce(0) { $0 + $1.count } : nil
        state = Mutex((pieces, 0, false))
    }

    public func next() async throws -> [UInt8]? {
        state.withLock { state in
            guard !state.cancelled, state.read < state.pieces.count else { return nil }
            defer { state.read += 1 }
            return state.pieces[state.read]
        }
    }

    public func cancel() { state.withLock { $0.cancelled = true } }

    public var wasCancelled: Bool { state.withLock { $0.cancelled } }
    public var piecesRead: Int { state.withLock { $0.read } }
}

/// Reads one request from `socket` with `decoder`, calling `progress` with the body bytes received so far each
/// time more arrive (so a test can see a body arrive before the sender finished it).
public func readRequest(
    on socket: AsyncSocket, decoder: inout HTTPRequestDecoder, timeout: Duration = .seconds(20),
    progress: (Int) -> Void = { _ in }
) async throws -> (head: RequestHead, body: [UInt8]) {
    let deadline = ContinuousClock.now + timeout
    var head: RequestHead?
    var body: [UInt8] = []
    while true {
        while let event = try decoder.next() {
            switch event {
            case .head(let parsed): head = parsed
            case .rawHead(let raw): head = try raw.materialize()
            case .body(let piece):
                body += piece
                progress(body.count)
            case .end:
                guard let head else { continue }
                return (head, body)
            }
        }
        let count = try await socket.read(deadline: deadline) { decoder.append($0) }
        if count == 0 { throw ScriptedUpstreamError.closedInsideRequest }
    }
}

/// Answers the requests of a scripted upstream connection one at a time until the peer closes between requests:
/// each complete request (bodies up to 64 MiB; `progress` sees the body bytes received so far) goes to `answer`.
public func serveRequests(
    on connection: ScriptedConnection, progress: @escaping @Sendable (Int) -> Void = { _ in },
    _ answer: (RequestHead, [UInt8]) async throws -> Void
) async throws {
    var decoder = HTTPRequestDecoder(limits: HTTPLimits(maxBodySize: 64 << 20))
    while true {
        let head: RequestHead
        let body: [UInt8]
        do {
            (head, body) = try await readRequest(on: connection.socket, decoder: &decoder, progress: progress)
        } catch {
            if decoder.isIdle { return }  // closed between requests
            throw error
        }
        try await answer(head, body)
    }
}

/// Reads one response (to `method`) from `socket`, calling `progress` with the body bytes received so far each
/// time more arrive. A close-delimited body ends when the peer closes.
public func readResponse(
    on socket: AsyncSocket, method: HTTPRequest.Method = .get, timeout: Duration = .seconds(20),
    progress: (Int) -> Void = { _ in }
) async throws -> (head: ResponseHead, body: [UInt8]) {
    var decoder = HTTPResponseDecoder(limits: HTTPLimits(maxBodySize: Int.max))
    decoder.expectResponse(to: method)
    let deadline = ContinuousClock.now + timeout
    var head: ResponseHead?
    var body: [UInt8] = []
    var eof = false
    while true {
        while let event = eof ? try decoder.finish() : try decoder.next() {
            switch event {
            case .informational: break
            case .head(let parsed): head = parsed
            case .rawHead(let raw): head = try raw.materialize()
            case .body(let piece):
                body += piece
                progress(body.count)
            case .end:
                guard let head else { continue }
                return (head, body)
            }
        }
        if eof { throw TestClientError.closedEarly(received: 0) }
        let count = try await socket.read(deadline: deadline) { decoder.append($0) }
        if count == 0 { eof = true }
    }
}
