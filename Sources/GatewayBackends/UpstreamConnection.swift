import GatewayHTTP
import GatewaySockets
import HTTPTypes

/// A keep-alive connection to the upstream with the response decoder it last used: what the pool keeps
/// (``ConnectionPool``), and the loop-driven exchange on it (``UpstreamClient/exchange(_:method:on:now:completion:)``),
/// which reads the response as the loop's events come.
///
/// One object for the connection's whole life, from one exchange to the next: a loop-driven request allocates
/// nothing for its exchange, and the decoder (some 300 bytes with its buffers) stays in place instead of being
/// moved in and out of the pool. An `async` exchange takes the decoder out (``takeDecoder()``) and puts it back
/// in a new one.
///
/// `@unchecked Sendable`: a loop-driven exchange is confined to its loop's queue. It starts there, and only the
/// socket's readiness callbacks (which the loop runs on its queue) resume it; a hand-over to a task passes on what
/// it needs and never touches the object again. While pooled, the object is reached only under the pool's lock.
/// For the same reason its mutable state is `@exclusivity(unchecked)` (one thread at a time, no overlapping access).
final class UpstreamConnection: SocketEventHandler, @unchecked Sendable {
    let socket: AsyncSocket
    /// Nil once taken out (``takeDecoder()``) or handed over.
    @exclusivity(unchecked) private var decoder: HTTPResponseDecoder?

    // The exchange in progress: set by start(...), cleared when it ends. A pooled connection holds no client (the
    // client holds the pool).
    @exclusivity(unchecked) private var client: UpstreamClient?
    @exclusivity(unchecked) private var message: [UInt8] = []
    @exclusivity(unchecked) private var method: HTTPRequest.Method = .get
    @exclusivity(unchecked) private var deadline = LoopTime(nanoseconds: 0)
    @exclusivity(unchecked) private var completion: (@Sendable (consuming Result<UpstreamAnswer, UpstreamError>) -> Void)?
    /// The head, once it came (as received: the body is small and sized, or there is none).
    @exclusivity(unchecked) private var head: RawResponseHead?
    @exclusivity(unchecked) private var body: [UInt8] = []
    /// Whether any byte of a response arrived (a reused connection closed before that may be resent on).
    @exclusivity(unchecked) private var received = false

    init(socket: AsyncSocket, decoder: consuming HTTPResponseDecoder) {
        self.socket = socket
        self.decoder = consume decoder
    }

    /// The decoder, moved out (for an `async` exchange; the object is dropped after).
    func takeDecoder() -> HTTPResponseDecoder {
        decoder.take()!
    }

    /// Reads the response to `message`, which went out whole, on the loop's events; `completion` runs once.
    func start(
        client: UpstreamClient, message: [UInt8], method: HTTPRequest.Method, deadline: LoopTime,
        completion: @escaping @Sendable (consuming Result<UpstreamAnswer, UpstreamError>) -> Void
    ) {
        self.client = client
        self.message = message
        self.method = method
        self.deadline = deadline
        self.completion = completion
        received = false
        decoder!.rawHeads = true
        decoder!.expectResponse(to: method)
        read()
    }

    /// Decodes what arrived and reads more until the response is complete or the socket has nothing yet (then the
    /// loop calls back).
    private func read() {
        while true {
            do throws(HTTPParseError) {
                while let event = try decoder!.next() {
                    switch event {
                    case .informational:
                        continue  // 1xx interim responses (RFC 9110 §15.2) are not relayed
                    case .rawHead(let raw):
                        switch raw.framing {
                        case .none:
                            head = raw
                        case .contentLength(let length) where length <= client!.configuration.streamResponsesOver
                            && length <= client!.configuration.maxResponseBodySize:
                            head = raw  // its body usually comes as one chunk, which becomes the body as it is
                        default:
                            // Large, chunked or close-delimited: read (or streamed) as the async exchange does.
                            handOver(event)
                            return
                        }
                    case .head:
                        handOver(event)
                        return
                    case .body(let chunk):
                        if body.isEmpty { body = chunk } else { body.append(contentsOf: chunk) }
                    case .end:
                        guard let raw = head.take() else { continue }
                        complete(raw)
                        return
                    }
                }
            } catch {
                socket.close()
                finish()(.failure(.failed("invalid response: \(error.reason)")))
                return
            }
            do throws(SocketError) {
                guard let count = try socket.readNow({ decoder!.append($0) }) else {
                    switch try socket.whenReadable(deadline: deadline, notify: self) {
                    case .armed: return
                    case .ready: continue
                    }
                }
                if count == 0 {
                    ended(.disconnected)
                    return
                }
                received = true
            } catch {
                ended(error)
                return
            }
        }
    }

    /// The whole response came: the connection goes back to the pool (or closes), then the answer goes out. The
    /// object may start its next exchange from inside `completion`; nothing of this one is touched after it.
    private func complete(_ raw: RawResponseHead) {
        var taken: [UInt8] = []
        swap(&taken, &body)
        let pool = client!.pool(for: socket.loop)
        let completion = finish()
        if raw.keepAlive, !decoder!.hasBufferedBytes {
            pool.put(self, now: socket.loop.cycleTime)
        } else {
            socket.close()
        }
        completion(.success(.bytes(raw, body: taken)))
    }

    /// Ends the exchange: clears what it held and returns its completion.
    private func finish() -> @Sendable (consuming Result<UpstreamAnswer, UpstreamError>) -> Void {
        client = nil
        message = []
        head = nil
        body = []
        return completion.take()!
    }

    func socketReadable(_ error: SocketError?) {
        if let error { ended(error) } else { read() }
    }

    func socketWritable(_ error: SocketError?) {
        assertionFailure("a loop-driven exchange never waits to write")
    }

    /// The connection failed, timed out or closed before the response was complete.
    private func ended(_ error: SocketError) {
        socket.close()
        let (client, message, method, deadline, received) = (client!, message, method, deadline, received)
        let completion = finish()
        if case .timeout = error {
            completion(.failure(.timeout))
        } else if !received, UpstreamClient.isSafe(method), error.isDisconnection {
            // A pooled connection the upstream closed before any response: sent again on a fresh one.
            let resend = UpstreamClient.Resend(message: message, method: method, deadline: deadline.instant)
            client.inTask(on: socket.loop, resending: resend, completion) { _ throws(UpstreamError) in nil }
        } else if case .disconnected = error {
            completion(.failure(.failed("invalid response: the upstream closed the connection mid-response")))
        } else {
            completion(.failure(.failed("reading the response: \(error)")))
        }
    }

    /// Goes on in a task, from `event` (a head this path does not keep as bytes), as the async exchange reads.
    private func handOver(_ event: ResponseEvent) {
        let (client, socket, decoder, message) = (client!, socket, decoder.take(), message)
        let (method, deadline, received) = (method, deadline.instant, received)
        let completion = finish()
        let resend = UpstreamClient.Resend(message: message, method: method, deadline: deadline)
        client.inTask(on: socket.loop, resending: resend, completion) { client throws(UpstreamError) in
            try await client.readAnswer(
                on: socket, decoder: decoder, method: method, deadline: deadline, streamResponse: true,
                nilIfClosedBeforeResponse: UpstreamClient.isSafe(method), rawHeads: true, pending: event,
                received: received, expected: true)
        }
    }
}
