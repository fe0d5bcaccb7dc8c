import GatewayHTTP
import GatewaySockets
import HTTPTypes

extension UpstreamClient {
    /// The byte path's exchange (``exchange(_:method:deadline:)``) driven by `loop`'s events instead of a task: on a
    /// pooled connection, the message is written at once and the response read as the loop sees it arrive, all on
    /// the loop's queue. What leaves that common case goes on in a task on the loop, the way the `async` exchange
    /// goes: no pooled connection (a connect), a message the kernel did not take whole, a response that is not
    /// small and sized (``UpstreamAnswer/response(_:)``), a resend after a pooled connection closed.
    ///
    /// The same answers, failures and resends as the `async` exchange. `completion` runs exactly once: on the loop's
    /// queue, in a task on the loop, or at once (a connection that fails before anything was sent).
    /// - Parameter now: the time, when the caller has just read the clock (the response timeout counts from it).
    public func exchange(
        _ message: [UInt8], method: HTTPRequest.Method, on loop: IOLoop, now: LoopTime = .now,
        completion: @escaping @Sendable (consuming Result<UpstreamAnswer, UpstreamError>) -> Void
    ) {
        let deadline = now.advanced(byNanoseconds: responseTimeoutNanoseconds)
        // The exchange's callbacks run on its pooled socket's loop, which is `loop` only when `loop` is this client's
        // (its pools are by loop): any other goes the async way, in a task, as does one with no pooled connection.
        let ownLoop = loop.index < loops.loops.count && loops.loops[loop.index] === loop
        // Resent once on a fresh connection when a reused one closes before any response (as the async exchange).
        let resendable = Self.isSafe(method)
        let pool = pool(for: loop)
        // The pooled connection's decoder, moved in by the pool and on into whichever branch takes it, never copied
        // (a decoder holds several buffers).
        var decoder: HTTPResponseDecoder?
        while true {
            guard ownLoop, let socket = pool.take(now: now, decoder: &decoder) else {
                let deadline = deadline.instant
                inTask(on: loop, resending: nil, completion) { client throws(UpstreamError) in
                    try await client.exchange(
                        message, rest: [], method: method, deadline: deadline, streamResponse: true, rawHeads: true)
                }
                return
            }
            assert(socket.loop === loop, "a pooled connection of another loop")
            let first: Result<IOResult<Int>, SocketError> = message.withUnsafeBytes { bytes in
                Result { () throws(SocketError) in try socket.socket.write(bytes.baseAddress!, count: bytes.count) }
            }
            let written: Int
            switch first {
            case .success(.done(let count)): written = count
            case .success(.wouldBlock): written = 0
            case .failure(let error):
                socket.close()
                decoder = nil
                // A reused connection the upstream closed: nothing was sent, another one is tried.
                if error.isDisconnection { continue }
                completion(.failure(.unreachable("send failed: \(error)")))
                return
            }
            guard written == message.count else {
                let deadline = deadline.instant
                let resend = Resend(message: message, method: method, deadline: deadline)
                let decoder = decoder.take()
                inTask(on: loop, resending: resend, completion) { client throws(UpstreamError) in
                    try await client.finishExchange(
                        message, rest: [], on: socket, decoder: decoder, written: written, method: method,
                        deadline: deadline, streamResponse: true, rawHeads: true,
                        nilIfClosedBeforeResponse: resendable)
                }
                return
            }
            LoopExchange(
                client: self, socket: socket, decoder: decoder.take()!, message: message, method: method,
                deadline: deadline, completion: completion
            ).read()
            return
        }
    }

    /// Runs `operation` in a task on `loop` and passes its answer to `completion`; an answer of nil (the upstream
    /// closed a reused connection before any response) sends `resend`'s message again on a fresh connection.
    func inTask(
        on loop: IOLoop, resending resend: Resend?,
        _ completion: @escaping @Sendable (consuming Result<UpstreamAnswer, UpstreamError>) -> Void,
        _ operation: @escaping @Sendable (UpstreamClient) async throws(UpstreamError) -> UpstreamAnswer?
    ) {
        loop.spawn {
            do throws(UpstreamError) {
                if let answer = try await operation(self) {
                    completion(.success(answer))
                } else if let resend {
                    completion(.success(try await self.exchange(
                        resend.message, rest: [], method: resend.method, deadline: resend.deadline,
                        streamResponse: true, rawHeads: true, fresh: true)))
                } else {
                    completion(.failure(.failed("the upstream closed the connection before responding")))
                }
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// What a resend on a fresh connection needs.
    struct Resend: Sendable {
        var message: [UInt8]
        var method: HTTPRequest.Method
        var deadline: ContinuousClock.Instant
    }
}

/// The response to one loop-driven exchange, read as the loop's events come (``UpstreamClient/exchange(_:method:on:completion:)``).
///
/// `@unchecked Sendable`: confined to its loop's queue. It is made there, and only the socket's readiness callbacks
/// (which the loop runs on its queue) resume it; a hand-over to a task passes on copies and never touches it again.
/// For the same reason its mutable state is `@exclusivity(unchecked)` (one thread, no overlapping access).
final class LoopExchange: SocketEventHandler, @unchecked Sendable {
    private let client: UpstreamClient
    private let socket: AsyncSocket
    /// Nil once moved into the pool or handed over.
    @exclusivity(unchecked) private var decoder: HTTPResponseDecoder?
    private let message: [UInt8]
    private let method: HTTPRequest.Method
    private let deadline: LoopTime
    private let completion: @Sendable (consuming Result<UpstreamAnswer, UpstreamError>) -> Void
    /// The head, once it came (as received: the body is small and sized, or there is none).
    @exclusivity(unchecked) private var head: RawResponseHead?
    @exclusivity(unchecked) private var body: [UInt8] = []
    /// Whether any byte of a response arrived (a reused connection closed before that may be resent on).
    @exclusivity(unchecked) private var received = false

    init(
        client: UpstreamClient, socket: AsyncSocket, decoder: consuming HTTPResponseDecoder, message: [UInt8],
        method: HTTPRequest.Method, deadline: LoopTime,
        completion: @escaping @Sendable (consuming Result<UpstreamAnswer, UpstreamError>) -> Void
    ) {
        self.client = client
        self.socket = socket
        self.decoder = consume decoder
        self.decoder!.rawHeads = true
        self.decoder!.expectResponse(to: method)
        self.message = message
        self.method = method
        self.deadline = deadline
        self.completion = completion
    }

    /// Decodes what arrived and reads more until the response is complete or the socket has nothing yet (then the
    /// loop calls back).
    func read() {
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
                        case .contentLength(let length) where length <= client.configuration.streamResponsesOver
                            && length <= client.configuration.maxResponseBodySize:
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
                        if raw.keepAlive, !decoder!.hasBufferedBytes {
                            // Moved out, not copied (a decoder holds several buffers).
                            let loop = socket.loop
                            client.pool(for: loop).put(socket, decoder: decoder.take()!, now: loop.cycleTime)
                        } else {
                            socket.close()
                        }
                        var taken: [UInt8] = []
                        swap(&taken, &body)
                        completion(.success(.bytes(raw, body: taken)))
                        return
                    }
                }
            } catch {
                socket.close()
                completion(.failure(.failed("invalid response: \(error.reason)")))
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

    func socketReadable(_ error: SocketError?) {
        if let error { ended(error) } else { read() }
    }

    func socketWritable(_ error: SocketError?) {
        assertionFailure("a loop-driven exchange never waits to write")
    }

    /// The connection failed, timed out or closed before the response was complete.
    private func ended(_ error: SocketError) {
        socket.close()
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
        let (socket, decoder, method, deadline, received) = (socket, decoder.take(), method, deadline.instant, received)
        let resend = UpstreamClient.Resend(message: message, method: method, deadline: deadline)
        client.inTask(on: socket.loop, resending: resend, completion) { client throws(UpstreamError) in
            try await client.readAnswer(
                on: socket, decoder: decoder, method: method, deadline: deadline, streamResponse: true,
                nilIfClosedBeforeResponse: UpstreamClient.isSafe(method), rawHeads: true, pending: event,
                received: received, expected: true)
        }
    }
}
