import Dispatch
import GatewayHTTP
import GatewaySockets
import HTTPTypes
import Synchronization

/// An HTTP/1.1 client for one upstream, with a keep-alive connection pool.
///
/// It reuses the gateway's own codec (``HTTPEncoder``, ``HTTPResponseDecoder``). A request is retried on a fresh
/// connection only when nothing of it was sent: the pooled connection turned out to be closed by the upstream
/// before the first byte went out. Once any byte was sent, a failure is ``UpstreamError/failed(_:)``.
///
/// Bodies are buffered unless streaming is asked for: a request body given as a stream is sent as it is read
/// (`Content-Length` when its length is known, chunked otherwise), and with `streamResponse` a large or
/// unknown-length response body comes back as a stream read lazily from the connection
/// (``UpstreamConfiguration/streamResponsesOver``).
public final class UpstreamClient: Sendable {
    public let configuration: UpstreamConfiguration
    /// One pool per event loop: a request reuses connections of the loop it runs on, so upstream events
    /// resume it on its own thread.
    private let pools: [ConnectionPool]
    let loops: IOLoopGroup
    /// ``UpstreamConfiguration/responseTimeout`` in nanoseconds, for the loop-driven exchange's deadline.
    let responseTimeoutNanoseconds: Int64
    /// Prunes the pools every ``pruneInterval`` (``ConnectionPool/prune(now:)``) until ``close()``.
    private let pruner: Mutex<(any DispatchSourceTimer)?>
    /// How often idle connections closed by the upstream are looked for.
    static let pruneInterval: Duration = .seconds(1)

    public init(configuration: UpstreamConfiguration, loops: IOLoopGroup = .shared) {
        self.configuration = configuration
        self.loops = loops
        self.responseTimeoutNanoseconds = LoopTime.nanoseconds(of: configuration.responseTimeout)
        // Rounded up, so that a small positive limit still pools; 0 turns pooling off.
        let perLoop = (max(0, configuration.maxIdleConnections) + loops.loops.count - 1) / loops.loops.count
        let pools = loops.loops.map { _ in
            ConnectionPool(maxIdle: perLoop, maxAge: configuration.idleConnectionTimeout)
        }
        self.pools = pools
        // The timer holds the pools, not the client: a client dropped without close() stops it in deinit. None
        // when pooling is off.
        guard perLoop > 0 else {
            self.pruner = Mutex(nil)
            return
        }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        let interval = Int(Self.pruneInterval.components.seconds * 1000)
        timer.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval), leeway: .milliseconds(100))
        timer.setEventHandler {
            let now = LoopTime.now
            for pool in pools { pool.prune(now: now) }
        }
        timer.resume()
        self.pruner = Mutex(timer)
    }

    deinit {
        pruner.withLock { $0?.cancel() }
    }

    /// Sends `head` with `body` (or `bodyStream`) and returns the response.
    /// - Parameters:
    ///   - bodyStream: when set, the body is read from it and sent as it arrives (`body` is ignored); a failure to
    ///     read it closes the upstream connection mid-request and throws ``UpstreamError/failed(_:)``.
    ///   - deadline: when to give up waiting for the response (default: the response timeout, counted from the
    ///     start, or for a streamed request body from the moment it was sent completely).
    ///   - streamResponse: whether a large or unknown-length response body may be returned as a
    ///     ``GatewayResponse/bodyStream`` instead of being buffered.
    public func send(
        _ head: HTTPRequest, body: [UInt8], bodyStream: (any HTTPBodyStream)? = nil,
        deadline: ContinuousClock.Instant? = nil, streamResponse: Bool = false
    ) async throws(UpstreamError) -> GatewayResponse {
        if let bodyStream {
            return try await send(head, streaming: bodyStream, deadline: deadline, streamResponse: streamResponse)
        }
        var message: [UInt8] = []
        message.reserveCapacity(512 + (body.count <= 65536 ? body.count : 0))
        let hasBody = !body.isEmpty || head.method == .post || head.method == .put || head.method == .patch
        HTTPEncoder.encodeRequestHead(head, contentLength: hasBody ? body.count : nil, chunked: false, into: &message)
        let inline = body.count <= 65536
        if inline { message.append(contentsOf: body) }
        let answer = try await exchange(
            message, rest: inline ? [] : body, method: head.method, deadline: deadline, streamResponse: streamResponse,
            rawHeads: false)
        guard case .response(let response) = answer else { throw .failed("unexpected response form") }
        return response
    }

    /// The byte path: sends `message`, a complete request already framed for the upstream (head and body), and
    /// returns the response. A response with no body or a `Content-Length` body up to
    /// ``UpstreamConfiguration/streamResponsesOver`` comes back as received (``UpstreamAnswer/bytes(_:body:)``,
    /// hop-by-hop fields still in its head); any other as the usual ``GatewayResponse`` (streamed when large).
    /// Resent on a fresh connection under the same rules as ``send(_:body:bodyStream:deadline:streamResponse:)``.
    public func exchange(
        _ message: [UInt8], method: HTTPRequest.Method, deadline: ContinuousClock.Instant? = nil
    ) async throws(UpstreamError) -> UpstreamAnswer {
        try await exchange(message, rest: [], method: method, deadline: deadline, streamResponse: true, rawHeads: true)
    }

    /// Sends `message` then `rest` (a body too large to copy into the message) and reads the response.
    /// - Parameter fresh: start on a new connection (a resend after a pooled one closed), with no further resend.
    func exchange(
        _ message: [UInt8], rest body: [UInt8], method: HTTPRequest.Method, deadline: ContinuousClock.Instant?,
        streamResponse: Bool, rawHeads: Bool, fresh: Bool = false
    ) async throws(UpstreamError) -> UpstreamAnswer {
        let deadline = deadline ?? .now + configuration.responseTimeout
        // RFC 9110 §9.2.2 allows sending an idempotent request again when the connection fails before any response.
        // The gateway does it only for safe methods (§9.2.1; PUT and DELETE change state, and a key may cover
        // them, so they are never sent twice), once, on a fresh connection, and only when the failed connection was
        // a reused one: an upstream that closed it as it sat in the pool, a race no liveness check rules out.
        var mayResendAfterEarlyClose = Self.isSafe(method) && !fresh
        var fresh = fresh
        while true {
            let (socket, reusedDecoder, reused, written) = try await sendHead(message, fresh: fresh)
            guard
                let answer = try await finishExchange(
                    message, rest: body, on: socket, decoder: reusedDecoder, written: written, method: method,
                    deadline: deadline, streamResponse: streamResponse, rawHeads: rawHeads,
                    nilIfClosedBeforeResponse: reused && mayResendAfterEarlyClose)
            else {
                mayResendAfterEarlyClose = false
                fresh = true
                continue
            }
            return answer
        }
    }

    /// The rest of an exchange whose first `written` bytes of `message` went out on `socket`: sends the rest and
    /// `body`, then reads the answer. Nil when `nilIfClosedBeforeResponse` and the upstream closed the connection
    /// before any byte of a response (the caller may resend).
    func finishExchange(
        _ message: [UInt8], rest body: [UInt8], on socket: AsyncSocket, decoder reusedDecoder: consuming HTTPResponseDecoder?,
        written: Int, method: HTTPRequest.Method, deadline: ContinuousClock.Instant, streamResponse: Bool,
        rawHeads: Bool, nilIfClosedBeforeResponse: Bool
    ) async throws(UpstreamError) -> UpstreamAnswer? {
        // Held in an optional and taken out below, so the decoder keeps a single owner (no copy of its buffers).
        var pooledDecoder = reusedDecoder
        // The rest of the head, and the body when it was not sent with it. An upstream may answer before it read
        // all of it (RFC 9112 §9.5): that answer is the response. A write that stalls for the response timeout
        // ends the upload, even when the exchange's deadline is later (a keyed request's lease).
        if written < message.count,
            let early = try await finishSending(
                Array(message[written...]), on: socket, decoder: &pooledDecoder, method: method,
                stall: min(deadline - .now, configuration.responseTimeout))
        {
            return .response(early)
        }
        if !body.isEmpty,
            let early = try await finishSending(
                body, on: socket, decoder: &pooledDecoder, method: method,
                stall: min(deadline - .now, configuration.responseTimeout))
        {
            return .response(early)
        }
        return try await readAnswer(
            on: socket, decoder: pooledDecoder.take(), method: method, deadline: deadline,
            streamResponse: streamResponse, nilIfClosedBeforeResponse: nilIfClosedBeforeResponse, rawHeads: rawHeads)
    }

    /// RFC 9110 §9.2.1 (compared, not hashed: this runs for every request).
    static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options || method == .trace
    }

    /// Sends `head`, then the body as `stream` yields it. The head goes out alone first, so a dead pooled
    /// connection is still detected before anything was sent (and before the stream was read): only then is the
    /// request retried on a fresh connection.
    private func send(
        _ head: HTTPRequest, streaming stream: any HTTPBodyStream, deadline: ContinuousClock.Instant?,
        streamResponse: Bool
    ) async throws(UpstreamError) -> GatewayResponse {
        let length = stream.length
        var message: [UInt8] = []
        message.reserveCapacity(512)
        // RFC 9112 §6.2 when the client gave a length, else the chunked coding (RFC 9112 §7.1).
        HTTPEncoder.encodeRequestHead(head, contentLength: length, chunked: length == nil, into: &message)
        let stall = configuration.responseTimeout
        let (socket, reusedDecoder, _, written) = try await sendHead(message, fresh: false)
        var pooledDecoder = reusedDecoder
        if written < message.count,
            let early = try await finishSending(
                Array(message[written...]), on: socket, decoder: &pooledDecoder, method: head.method, stall: stall)
        {
            stream.cancel()
            return early
        }
        var sent = 0
        var chunk: [UInt8] = []  // one framing buffer for the whole body
        /// A write to the upstream failed (it closed, reset or stopped reading), or the upstream stopped reading
        /// with a complete answer waiting, as opposed to a failure to read the body from the client.
        struct UpstreamStoppedReading: Error { var error: SocketError }
        func write(_ bytes: [UInt8]) async throws(UpstreamStoppedReading) {
            let probe = pooledDecoder
            let complete: Bool
            do throws(SocketError) {
                complete = try await socket.write(bytes, stallTimeout: stall, checkingEvery: Self.earlyResponseWait) {
                    self.hasCompleteAnswer(on: socket, decoder: probe, method: head.method)
                }
            } catch {
                throw UpstreamStoppedReading(error: error)
            }
            if !complete { throw UpstreamStoppedReading(error: .timeout) }
        }
        do {
            while let piece = try await stream.next() {
                sent += piece.count
                if let length, sent > length { throw UpstreamError.failed("the request body is longer than its length") }
                if length == nil {
                    chunk.removeAll(keepingCapacity: true)
                    HTTPEncoder.encodeChunk(piece, into: &chunk)
                    try await write(chunk)
                } else {
                    try await write(piece)
                }
            }
            if let length, sent != length { throw UpstreamError.failed("the request body is shorter than its length") }
            if length == nil {
                var last: [UInt8] = []
                HTTPEncoder.encodeLastChunk(into: &last)
                try await write(last)
            }
        } catch {
            // The upstream got an incomplete request: this connection can never be reused.
            stream.cancel()
            if let stopped = error as? UpstreamStoppedReading {
                // RFC 9112 §9.5: a server may answer before the whole body arrived (413, 401, …) and stop reading
                // or close. That answer, when it is there, is the response; otherwise the exchange failed.
                if let early = await earlyResponse(on: socket, decoder: pooledDecoder.take(), method: head.method) {
                    return early
                }
                socket.close()
                throw .failed("sending the request body: \(stopped.error)")
            }
            socket.close()
            if let error = error as? UpstreamError { throw error }
            throw .failed("reading the request body from the client: \(error)")
        }
        // The body was read from the client as it was sent: it cannot be sent again, so no resend here.
        let response = try await readResponse(
            on: socket, decoder: pooledDecoder.take(), method: head.method,
            deadline: deadline ?? .now + configuration.responseTimeout, streamResponse: streamResponse,
            nilIfClosedBeforeResponse: false)
        guard let response else { throw .failed("the upstream closed the connection before responding") }
        return response
    }

    /// Closes idle pooled connections (and stops looking for ones the upstream closed).
    public func close() {
        pruner.withLock { timer in
            timer?.cancel()
            timer = nil
        }
        for pool in pools { pool.closeAll() }
    }

    /// Starts sending `message` (a request head, possibly with its body) on a pooled or new connection, with one
    /// write that does not wait: when it fails on a reused connection the upstream had closed it and nothing was
    /// sent, so another connection is tried. Returns the connection with its pooled decoder, if any, and how much
    /// of `message` went out (the caller sends the rest with ``finishSending(_:on:decoder:method:stall:)``).
    private func sendHead(_ message: [UInt8], fresh: Bool) async throws(UpstreamError)
        -> (AsyncSocket, HTTPResponseDecoder?, reused: Bool, written: Int)
    {
        while true {
            let (socket, decoder, reused) = try await connection(fresh: fresh)
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
            return (socket, decoder, reused, written)
        }
    }

    /// Writes `bytes`, part of a request whose start was sent, to the upstream. Returns nil once all of it went
    /// out. RFC 9112 §9.5: an upstream may answer before it read the whole request (401, 413…), then close, reset,
    /// or stop reading. When the write fails, or stalls while a complete answer is waiting (checked every
    /// ``earlyResponseWait``, without consuming it), that answer is returned (the connection is then closed: the
    /// request on it is incomplete); with none, the exchange failed (``UpstreamError/failed(_:)``, since part of the
    /// request was sent).
    private func finishSending(
        _ bytes: [UInt8], on socket: AsyncSocket, decoder: inout HTTPResponseDecoder?, method: HTTPRequest.Method,
        stall: Duration
    ) async throws(UpstreamError) -> GatewayResponse? {
        let failure: SocketError
        do throws(SocketError) {
            let probe = decoder
            let complete = try await socket.write(bytes, stallTimeout: stall, checkingEvery: Self.earlyResponseWait) {
                self.hasCompleteAnswer(on: socket, decoder: probe, method: method)
            }
            if complete { return nil }
            failure = .timeout
        } catch {
            failure = error
        }
        if let early = await earlyResponse(on: socket, decoder: decoder.take(), method: method) { return early }
        socket.close()
        throw .failed("sending the request: \(failure)")
    }

    /// Whether the upstream has sent a complete final response (not an interim one, not the start of one it streams
    /// while it reads): parsed from a copy of the input, which stays in the socket for the real read.
    private func hasCompleteAnswer(on socket: AsyncSocket, decoder: HTTPResponseDecoder?, method: HTTPRequest.Method) -> Bool {
        let input = socket.peek(limit: Self.earlyAnswerPeekLimit)
        guard !input.isEmpty else { return false }
        var probe = decoder ?? HTTPResponseDecoder(limits: configuration.responseLimits)
        probe.expectResponse(to: method)
        probe.append(input)
        while let event = try? probe.next() {
            if case .end = event { return true }
        }
        return false
    }

    /// The most input looked at for a complete early answer (early answers are short error responses).
    static let earlyAnswerPeekLimit = 64 * 1024

    /// The idle-connection pool of `loop`.
    func pool(for loop: IOLoop) -> ConnectionPool {
        pools[loop.index % pools.count]
    }

    /// A pooled connection comes with the response decoder it last used.
    /// - Parameter fresh: open a new connection even when one is pooled.
    private func connection(fresh: Bool) async throws(UpstreamError) -> (AsyncSocket, HTTPResponseDecoder?, reused: Bool) {
        let loop = loops.currentOrNext()
        if !fresh, case let (socket, decoder)? = pool(for: loop).take() { return (socket, decoder, true) }
        do {
            let socket = try await AsyncSocket.connect(
                to: configuration.address, deadline: .now + configuration.connectTimeout, loop: loop)
            return (socket, nil, false)
        } catch {
            throw .unreachable("connect to \(configuration.address): \(error)")
        }
    }

    /// The response an upstream sent before it read the whole request body (RFC 9112 §9.5), if it sent one within
    /// ``earlyResponseWait``: read whole (never streamed), and the connection closed afterwards, since the request on
    /// it is incomplete. Nil when none arrived.
    private func earlyResponse(
        on socket: AsyncSocket, decoder: consuming HTTPResponseDecoder?, method: HTTPRequest.Method
    ) async -> GatewayResponse? {
        let response = try? await readResponse(
            on: socket, decoder: decoder, method: method, deadline: .now + Self.earlyResponseWait,
            streamResponse: false, nilIfClosedBeforeResponse: true, reusable: false)
        socket.close()
        return response ?? nil
    }

    /// How long an upstream that stopped reading the request body is given to show its early response.
    static let earlyResponseWait: Duration = .seconds(1)

    /// - Parameter reusable: false when the request on this connection was not sent completely: the connection is
    ///   closed after the response instead of pooled.
    private func readResponse(
        on socket: AsyncSocket, decoder pooled: consuming HTTPResponseDecoder?, method: HTTPRequest.Method,
        deadline: ContinuousClock.Instant, streamResponse: Bool, nilIfClosedBeforeResponse: Bool,
        reusable: Bool = true
    ) async throws(UpstreamError) -> GatewayResponse? {
        let answer = try await readAnswer(
            on: socket, decoder: pooled, method: method, deadline: deadline, streamResponse: streamResponse,
            nilIfClosedBeforeResponse: nilIfClosedBeforeResponse, reusable: reusable, rawHeads: false)
        guard case .response(let response)? = answer else { return nil }
        return response
    }

    /// ``readResponse(on:decoder:method:deadline:streamResponse:nilIfClosedBeforeResponse:reusable:)``, which with
    /// `rawHeads` returns a small response as received (``UpstreamAnswer/bytes(_:body:)``).
    /// - Parameters:
    ///   - pending: an event already taken from `decoder`, handled first (a loop-driven exchange hands over here).
    ///   - received: whether any byte of the response arrived before (for the resend rule).
    ///   - expected: whether ``HTTPResponseDecoder/expectResponse(to:)`` was called for this request already.
    func readAnswer(
        on socket: AsyncSocket, decoder pooled: consuming HTTPResponseDecoder?, method: HTTPRequest.Method,
        deadline: ContinuousClock.Instant, streamResponse: Bool, nilIfClosedBeforeResponse: Bool,
        reusable: Bool = true, rawHeads: Bool, pending: ResponseEvent? = nil, received: Bool = false, expected: Bool = false
    ) async throws(UpstreamError) -> UpstreamAnswer? {
        var pending = pending
        // Moved out of the optional, not copied (a decoder holds several buffers).
        var decoder: HTTPResponseDecoder
        switch consume pooled {
        case .some(let reused): decoder = reused
        case .none: decoder = HTTPResponseDecoder(limits: configuration.responseLimits)
        }
        decoder.rawHeads = rawHeads
        // The byte path's head, kept as received.
        var rawHead: RawResponseHead?
        // Whether any byte of a response arrived: a connection closed or reset before that answered nothing.
        var received = received
        if !expected { decoder.expectResponse(to: method) }
        var head: ResponseHead?
        var body: [UInt8] = []
        var eof = false
        // An unknown-length body (chunked or close-delimited) is buffered as before while it stays within the
        // streaming size, and streamed from the moment it grows past it.
        var probing = false
        while true {
            do throws(HTTPParseError) {
                while var event = try Self.nextEvent(&pending, &decoder, eof: eof) {
                    if case .rawHead(let raw) = event {
                        // Kept as bytes only when the body is small and sized; otherwise as on the usual path.
                        switch raw.framing {
                        case .none:
                            rawHead = raw
                        case .contentLength(let length) where length <= configuration.streamResponsesOver
                            && length <= configuration.maxResponseBodySize:
                            rawHead = raw
                            body.reserveCapacity(length)
                        default:
                            event = .head(try raw.materialize())
                        }
                    }
                    switch event {
                    case .informational, .rawHead:
                        continue  // 1xx interim responses (RFC 9110 §15.2) are not relayed
                    case .head(let parsed):
                        head = parsed
                        if case .contentLength(let length) = parsed.framing {
                            if streamResponse, length > configuration.streamResponsesOver {
                                return .response(streamed(parsed, prefix: [], decoder: decoder, socket: socket))
                            }
                            guard length <= configuration.maxResponseBodySize else {
                                throw HTTPParseError(status: 502, reason: "response body of \(length) bytes exceeds the limit")
                            }
                            body.reserveCapacity(length)
                        } else if streamResponse, !eof, parsed.framing == .chunked || parsed.framing == .untilClose {
                            probing = true
                        }
                    case .body(let chunk):
                        if body.isEmpty { body = chunk } else { body.append(contentsOf: chunk) }
                        if probing, body.count > configuration.streamResponsesOver, let head {
                            return .response(streamed(head, prefix: body, decoder: decoder, socket: socket))
                        }
                        guard body.count <= configuration.maxResponseBodySize else {
                            throw HTTPParseError(status: 502, reason: "response body exceeds \(configuration.maxResponseBodySize) bytes")
                        }
                    case .end(let trailers):
                        if let raw = rawHead.take() {
                            if reusable, raw.keepAlive, !eof, !decoder.hasBufferedBytes {
                                pool(for: socket.loop).put(socket, decoder: consume decoder)
                            } else {
                                socket.close()
                            }
                            return .bytes(raw, body: body)
                        }
                        // Taken out of the optional, the head is the only owner of its fields: removing the
                        // hop-by-hop ones edits them in place.
                        guard var finished = head.take() else { continue }
                        if reusable, finished.keepAlive, !eof, !decoder.hasBufferedBytes {
                            pool(for: socket.loop).put(socket, decoder: consume decoder)
                        } else {
                            socket.close()
                        }
                        HopByHopHeaders.remove(from: &finished.response.headerFields)
                        _ = trailers
                        return .response(GatewayResponse(head: finished.response, body: body))
                    }
                    if eof { break }
                }
                if eof { throw HTTPParseError(status: 502, reason: "the upstream closed the connection mid-response") }
            } catch {
                socket.close()
                if eof, !received, nilIfClosedBeforeResponse { return nil }
                throw .failed("invalid response: \(error.reason)")
            }
            do {
                let count = try await socket.read(deadline: deadline) { decoder.append($0) }
                if count == 0 { eof = true } else { received = true }
            } catch .timeout {
                socket.close()
                throw .timeout
            } catch {
                socket.close()
                if !received, nilIfClosedBeforeResponse, error.isDisconnection { return nil }
                throw .failed("reading the response: \(error)")
            }
        }
    }
}

extension UpstreamClient {
    /// The pending event if there is one, else the decoder's next (after the end of input, its last).
    @inline(__always)
    private static func nextEvent(
        _ pending: inout ResponseEvent?, _ decoder: inout HTTPResponseDecoder, eof: Bool
    ) throws(HTTPParseError) -> ResponseEvent? {
        if let event = pending.take() { return event }
        return eof ? try decoder.finish() : try decoder.next()
    }

    /// A response whose body is read from `socket` as the consumer asks for it (hop-by-hop fields removed).
    private func streamed(
        _ head: ResponseHead, prefix: [UInt8], decoder: consuming HTTPResponseDecoder, socket: AsyncSocket
    ) -> GatewayResponse {
        var response = head.response
        HopByHopHeaders.remove(from: &response.headerFields)
        let stream = UpstreamBodyStream(
            socket: socket, decoder: decoder, head: head, prefix: prefix,
            pool: pool(for: socket.loop), stallTimeout: configuration.responseTimeout)
        return GatewayResponse(head: response, bodyStream: stream)
    }

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

/// The response to a request sent on the byte path (``UpstreamClient/exchange(_:method:deadline:)``).
public enum UpstreamAnswer: Sendable {
    /// The head as received (hop-by-hop fields still in it) and the whole body.
    case bytes(RawResponseHead, body: [UInt8])
    /// A response the byte path does not relay as bytes (chunked, close-delimited, large, or an early answer), in
    /// the usual form: hop-by-hop fields removed, a large body streamed.
    case response(GatewayResponse)
}
