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
        while true {
            guard ownLoop, let connection = pool.connection(now: now) else {
                let deadline = deadline.instant
                inTask(on: loop, resending: nil, completion) { client throws(UpstreamError) in
                    try await client.exchange(
                        message, rest: [], method: method, deadline: deadline, streamResponse: true, rawHeads: true)
                }
                return
            }
            let socket = connection.socket
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
                // A reused connection the upstream closed: nothing was sent, another one is tried.
                if error.isDisconnection { continue }
                completion(.failure(.unreachable("send failed: \(error)")))
                return
            }
            guard written == message.count else {
                let deadline = deadline.instant
                let resend = Resend(message: message, method: method, deadline: deadline)
                let decoder = connection.takeDecoder()
                inTask(on: loop, resending: resend, completion) { client throws(UpstreamError) in
                    try await client.finishExchange(
                        message, rest: [], on: socket, decoder: decoder, written: written, method: method,
                        deadline: deadline, streamResponse: true, rawHeads: true,
                        nilIfClosedBeforeResponse: resendable)
                }
                return
            }
            connection.start(
                client: self, message: message, method: method, deadline: deadline, completion: completion)
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
