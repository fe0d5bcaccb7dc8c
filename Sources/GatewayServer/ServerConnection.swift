import GatewayHTTP
import GatewaySockets
import HTTPTypes
import Logging
import Synchronization

/// One client connection: reads requests in order, answers each, and keeps the connection alive as
/// RFC 9112 §9.3 allows. Runs as a single task; all socket waits are non-blocking (``AsyncSocket``). With a
/// ``LoopForwarding`` handler it starts on its loop's events instead (``LoopDrivenConnection``), and its task takes
/// over at the first request that needs more (``run(resuming:decoder:first:)``).
///
/// Bodies are buffered, except a large or chunked request body the handler accepts streamed
/// (``RequestBodyStream``, read in this same task while the handler runs) and a response with a
/// ``GatewayResponse/bodyStream`` (written as it is read).
final class ServerConnection: Sendable {
    let socket: AsyncSocket
    /// The server's flag: once set, responses close their connection.
    let shuttingDown: ShutdownFlag
    private let handler: any HTTPHandler
    let configuration: ServerConfiguration
    let bodyBudget: BufferedBodyBudget
    let logger: Logger
    /// True while the connection waits for the first byte of a new request (it may be closed at shutdown).
    /// Written with a full fence (`markIdle()` then reads the shutdown flag; the server sets
    /// that flag, then reads this): one of the two sides always sees the other, so an idle connection is closed at
    /// shutdown either by the server or by itself.
    let idle = Atomic(false)
    /// The streamed response body being written, if any.
    private let relaying = Mutex<(any HTTPBodyStream)?>(nil)
    /// The handler's byte path, if it has one.
    let byteForwarding: (any ByteForwarding)?

    init(
        socket: AsyncSocket, shuttingDown: ShutdownFlag, handler: any HTTPHandler, configuration: ServerConfiguration,
        bodyBudget: BufferedBodyBudget, logger: Logger
    ) {
        self.bodyBudget = bodyBudget
        self.socket = socket
        self.shuttingDown = shuttingDown
        self.handler = handler
        self.byteForwarding = handler.byteForwarding
        self.configuration = configuration
        self.logger = logger
    }

    /// Closes the connection if it is between requests. Called at shutdown.
    func closeIfIdle() {
        if idle.load(ordering: .sequentiallyConsistent) { socket.close() }
    }

    /// Closes the connection now (end of the shutdown grace), and cancels a streamed response being relayed, whose
    /// source would otherwise only notice at its next byte or stall timeout.
    func forceClose() {
        let stream = relaying.withLock { $0 }
        // A body cut off here is incomplete; a reset says so even when it is close-delimited (where a FIN would
        // look like its end).
        if stream != nil { socket.resetOnClose() }
        socket.close()
        stream?.cancel()
    }

    /// A decoder for this connection's requests (raw heads when the handler has a byte path).
    func makeDecoder() -> HTTPRequestDecoder {
        var decoder = HTTPRequestDecoder(limits: configuration.limits)
        decoder.rawHeads = byteForwarding != nil
        decoder.rawHeadsExcept = byteForwarding?.declinedField
        return decoder
    }

    /// Serves the connection in a task until it closes.
    /// - Parameters:
    ///   - resuming: where a loop-driven connection (``LoopDrivenConnection``) hands over: a response to write, or a
    ///     head it decoded; nil for a new connection.
    ///   - decoder: the connection's decoder so far (a new one when nil).
    ///   - first: whether the connection has not served a request yet.
    /// - Returns: nil when the connection is closed and done with; a decoder when the connection goes back to its
    ///   loop (``LoopDrivenConnection``), after ``plainRequestsBeforeLoop`` requests in a row took the byte path with
    ///   nothing more buffered: the keyed request that sent a connection here was a passing one.
    @discardableResult
    func run(
        resuming: Resumption? = nil, decoder handedOver: HTTPRequestDecoder? = nil, first: Bool = true
    ) async -> HTTPRequestDecoder? {
        var backToLoop = false
        defer { if !backToLoop { socket.close() } }
        var decoder = handedOver ?? makeDecoder()
        // Requests in a row that took the byte path, while the handler has a loop-driven one.
        var plainRequests = 0
        let loopDriven = byteForwarding is any LoopForwarding
        var output: [UInt8] = []
        var pending: RequestEvent?
        switch resuming {
        case .responding(let response, let head)?:
            guard await deliver(response, for: head, bodyComplete: true, using: &output) else { return nil }
        case .reading(let event)?:
            pending = event
        case nil:
            break
        }
        let connectionInfo = ConnectionInfo(remoteAddress: socket.peer?.host ?? "")
        var first = first
        while true {
            guard
                case (let incoming, let body, let streamed, let reservation)? = await readRequest(
                    &decoder, first: first, pending: pending.take())
            else { return nil }
            first = false
            // What the response needs of the request, taken first: the head itself is consumed below, so the
            // handler's request is the only owner of its header fields (its first edit copies none).
            let head = RequestSummary(method: incoming.method, version: incoming.version, keepAlive: incoming.keepAlive)
            var info = connectionInfo
            info.version = head.version
            let response: GatewayResponse
            var bodyComplete = true
            switch consume incoming {
            case .raw(let raw):
                // The byte path (``ByteForwarding``): the body is buffered, its reservation held until the answer.
                response = await byteForwarding!.forward(raw, body: body, connection: info)
                withExtendedLifetime(reservation) {}
                plainRequests += 1
            case .parsed(var parsed):
                plainRequests = 0
                // The handler's request becomes the only owner of the header fields (taken out of `parsed`): a
                // handler that adds a field edits them in place instead of copying them.
                let requestHead = parsed.request
                parsed.request.headerFields = HTTPFields()
                if streamed {
                    // A chunked body is streamed only after some of it arrived: `100 Continue` was sent here if due.
                    let stream = RequestBodyStream(
                        decoder: decoder, prefix: body, head: parsed, socket: socket, configuration: configuration,
                        needsContinue: parsed.expectsContinue && parsed.framing != .chunked)
                    decoder = HTTPRequestDecoder(limits: configuration.limits)  // the stream holds the only copy
                    response = await respond(
                        to: GatewayRequest(
                            head: requestHead, connection: info, executor: socket.loop, bodyStream: stream,
                            allowsStreamedResponse: true))
                    let loan = stream.detach()
                    decoder = loan.decoder
                    if let failure = loan.failure {
                        response.bodyStream?.cancel()
                        if case .rejected(let status, let reason) = failure {
                            await fail(status: status, detail: reason, isHead: parsed.request.method == .head)
                        }
                        return nil
                    }
                    // An unread rest of the body would be taken for the next request: close after this response.
                    bodyComplete = loan.complete
                } else {
                    var request = GatewayRequest(
                        head: requestHead, body: body, connection: info, executor: socket.loop,
                        allowsStreamedResponse: true)
                    request.bodyReservation = reservation
                    response = await respond(to: request)
                }
            }
            guard await deliver(response, for: head, bodyComplete: bodyComplete, using: &output) else { return nil }
            if loopDriven, plainRequests >= Self.plainRequestsBeforeLoop, decoder.isIdle, !shuttingDown.isSet {
                backToLoop = true
                return decoder
            }
        }
    }

    /// Byte-path requests in a row after which a connection served by its task goes back to its loop. More than one,
    /// so that a client alternating keyed and plain requests does not start a task for every keyed one.
    static let plainRequestsBeforeLoop = 2

    /// Writes `response` and decides whether the connection stays open for another request (false: it was shut
    /// down after lingering for what the client still sends, or the write failed).
    /// - Parameter bodyComplete: whether the request's body was read whole (else the connection closes).
    private func deliver(
        _ response: consuming GatewayResponse, for head: RequestSummary, bodyComplete: Bool, using output: inout [UInt8]
    ) async -> Bool {
        var keepAlive = head.keepAlive && !shuttingDown.isSet && bodyComplete
        do {
            if let stream = response.bodyStream {
                relaying.withLock { $0 = stream }
                defer { relaying.withLock { $0 = nil } }
                keepAlive = try await writeStreamed(response, stream, for: head, keepAlive: keepAlive)
            } else {
                try await write(consume response, for: head, keepAlive: keepAlive, using: &output)
            }
        } catch {
            logger.debug("write failed", metadata: ["error": "\(error)"])
            return false
        }
        if keepAlive { return true }
        socket.shutdownWrite()
        if bodyComplete {
            await drainBeforeClose()
        } else {
            // The handler answered without reading the whole streamed body (an early 4xx, an unreachable
            // upstream): the client may still be uploading it. Linger long enough for a body within the
            // limit to arrive, so the response is not lost to a reset.
            await drainBeforeClose(limit: max(256 * 1024, configuration.limits.maxBodySize), duration: .seconds(3))
        }
        return false
    }

    /// Calls the handler; a thrown error becomes its response, or `500`.
    private func respond(to request: consuming GatewayRequest) async -> GatewayResponse {
        do {
            return try await handler.handle(consume request)
        } catch let error as any HTTPResponseError {
            return error.response
        } catch {
            logger.error("handler failed", metadata: ["error": "\(error)"])
            return ProblemDetails.response(status: 500, detail: "The gateway failed to handle the request.")
        }
    }

    /// Reads one complete request, or a head whose body is to be streamed (`streamed`; the body bytes decoded so
    /// far are returned, the rest is still in `decoder`). Returns nil when the connection should close (EOF,
    /// timeout, bad input; an error response has been written where one is due).
    ///
    /// A body is streamed when the handler accepts it (``HTTPHandler/acceptsStreamedBody(for:)``) and its
    /// `Content-Length` is over ``ServerConfiguration/streamBodiesOver`` (decided at the head, before any
    /// `100 Continue`), or it is chunked (RFC 9112 §7.1) and grows past that size (a smaller one is buffered
    /// exactly as before).
    /// - Parameter first: the connection's first request: a client that connects and sends nothing is held only for
    ///   the header timeout (when shorter than the idle timeout), not for a whole keep-alive idle time.
    /// - Parameter pending: an event already taken from `decoder` (a head a loop-driven connection handed over).
    private func readRequest(
        _ decoder: inout HTTPRequestDecoder, first: Bool, pending: RequestEvent? = nil
    ) async -> (IncomingHead, [UInt8], streamed: Bool, reservation: BufferedBodyBudget.Reservation?)? {
        var pending = pending
        var head: IncomingHead?
        var body: [UInt8] = []
        // The buffered body's share of the server's memory budget, counted as the body arrives.
        var reservation: BufferedBodyBudget.Reservation?
        var sentContinue = false
        var streamable = false
        var headerDeadline: ContinuousClock.Instant? = decoder.isIdle ? nil : .now + configuration.headerTimeout
        // Fixed when the wait for a new request starts: empty lines before a request line are skipped (RFC 9112
        // §2.2) and leave the connection idle, but they do not extend its idle time (a client sending one CRLF
        // now and then would otherwise hold a connection forever).
        var idleDeadline: ContinuousClock.Instant?
        // Whether the request being read is a HEAD, whose error answer has no body (RFC 9110 §9.3.2).
        func answersHEAD() -> Bool { head.map { $0.method == .head } ?? decoder.headBeingDecodedIsHEAD }
        while true {
            do throws(HTTPParseError) {
                while var event = try Self.nextEvent(&pending, &decoder) {
                    if case .rawHead(let raw) = event {
                        if takesBytePath(raw) {
                            head = .raw(raw)
                        } else {
                            event = .head(try raw.materialize())
                        }
                    }
                    switch event {
                    case .head, .rawHead:
                        if case .head(let parsed) = event { head = .parsed(parsed) }
                        guard let head else { continue }
                        if case .contentLength(let length) = head.framing {
                            if length > configuration.streamBodiesOver, case .parsed(let parsed) = head,
                                handler.acceptsStreamedBody(for: parsed.request)
                            {
                                return (head, [], true, nil)
                            }
                            if length > 0 {
                                // Refused at the head when it cannot fit, before any `100 Continue` (a client that
                                // waits for it never sends the body); counted as it arrives, so a client that
                                // trickles its body holds only what it sent.
                                guard bodyBudget.wouldFit(length) else {
                                    await failOverBudget(isHead: answersHEAD())
                                    return nil
                                }
                                reservation = bodyBudget.reserve(0)
                            }
                            // Not all of it up front: a head alone must not reserve up to max-body-bytes.
                            body.reserveCapacity(min(length, 64 * 1024))
                        } else if head.framing == .chunked, case .parsed(let parsed) = head {
                            streamable = handler.acceptsStreamedBody(for: parsed.request)
                            reservation = bodyBudget.reserve(0)
                        }
                    case .body(let chunk):
                        if reservation?.grow(by: chunk.count) != true {
                            // Refused: what arrived of the body is dropped now, not held while the connection lingers.
                            reservation = nil
                            body = []
                            await failOverBudget(isHead: answersHEAD())
                            return nil
                        }
                        if body.isEmpty { body = chunk } else { body.append(contentsOf: chunk) }
                        // A streamed body is not held whole: its buffered start is not counted.
                        if streamable, body.count > configuration.streamBodiesOver, let head { return (head, body, true, nil) }
                    case .end:
                        if let head { return (head, body, false, reservation) }
                    }
                }
            } catch {
                await fail(status: error.status, detail: error.reason, isHead: answersHEAD())
                return nil
            }
            // RFC 9110 §10.1.1: a client that sent `Expect: 100-continue` waits for this before the body.
            if let head, head.expectsContinue, !sentContinue {
                sentContinue = true
                do {
                    try await socket.write(HTTPEncoder.continueResponse, stallTimeout: configuration.writeTimeout)
                } catch { return nil }
            }
            let waitingForNewRequest = head == nil && decoder.isIdle
            let deadline: ContinuousClock.Instant
            if head != nil {
                deadline = .now + configuration.bodyTimeout
            } else if waitingForNewRequest {
                if !markIdle() { return nil }
                if idleDeadline == nil {
                    let idle = configuration.idleTimeout
                    idleDeadline = .now + (first ? min(configuration.headerTimeout, idle) : idle)
                }
                deadline = idleDeadline!
                // A read returns whatever is there before it looks at its deadline: a client that never stops
                // sending empty lines is cut off here.
                if ContinuousClock.now >= deadline { return nil }
            } else {
                if headerDeadline == nil { headerDeadline = .now + configuration.headerTimeout }
                deadline = headerDeadline!
            }
            do {
                let count = try await socket.read(deadline: deadline) { decoder.append($0) }
                if waitingForNewRequest {
                    idle.store(false, ordering: .releasing)
                    headerDeadline = .now + configuration.headerTimeout
                }
                if count == 0 { return nil }  // the peer closed; an incomplete request is dropped
            } catch .timeout {
                if !waitingForNewRequest {
                    let detail = head == nil ? "The request header took too long." : "The request body stalled."
                    await fail(status: 408, detail: detail, isHead: answersHEAD())
                }
                return nil
            } catch {
                return nil
            }
        }
    }

    /// The pending event if there is one, else the decoder's next.
    @inline(__always)
    private static func nextEvent(_ pending: inout RequestEvent?, _ decoder: inout HTTPRequestDecoder) throws(HTTPParseError) -> RequestEvent? {
        if let event = pending.take() { return event }
        return try decoder.next()
    }

    /// Whether a request goes the byte path: its handler takes it, and its body, if any, is buffered (a
    /// `Content-Length` up to ``ServerConfiguration/streamBodiesOver``, no `100 Continue` to send).
    func takesBytePath(_ head: RawRequestHead) -> Bool {
        guard let byteForwarding else { return false }
        return takesBytePath(head, byteForwarding)
    }

    /// ``takesBytePath(_:)`` with the connection's handler side at hand (a loop-driven connection holds it: the
    /// optional existential is not copied out for every request).
    func takesBytePath(_ head: RawRequestHead, _ forwarding: some ByteForwarding) -> Bool {
        guard !head.expectsContinue else { return false }
        switch head.framing {
        case .none: break
        case .contentLength(let length) where length <= configuration.streamBodiesOver: break
        default: return false
        }
        return forwarding.accepts(head)
    }

    /// Marks the connection busy: a request started arriving (it is no longer closed at shutdown).
    func markBusy() {
        idle.store(false, ordering: .releasing)
    }

    /// Marks the connection idle; false when the server is shutting down (the connection should close).
    func markIdle() -> Bool {
        idle.store(true, ordering: .sequentiallyConsistent)
        return !shuttingDown.isSet
    }

    /// Answers a request the server rejects itself, then the connection closes. The answer to a `HEAD` request has
    /// the problem's `Content-Length` but no body (RFC 9110 §9.3.2).
    /// - Parameters:
    ///   - retryAfter: seconds for `Retry-After` (RFC 9110 §10.2.3), for a refusal that a retry can get past.
    ///   - drain: how much of what the client still sends is read before closing (see ``drainBeforeClose(limit:duration:)``).
    private func fail(
        status: Int, detail: String, isHead: Bool = false, retryAfter: Int? = nil,
        drain: (limit: Int, duration: Duration) = (256 * 1024, .seconds(1))
    ) async {
        var fields = HTTPFields()
        if let retryAfter { fields[.retryAfter] = String(retryAfter) }
        var response = ProblemDetails.response(status: status, detail: detail, headerFields: fields)
        Self.addDate(to: &response)
        var buffer: [UInt8] = []
        HTTPEncoder.encodeResponseHead(
            response.head, version: .http1_1, contentLength: response.body.count, chunked: false, keepAlive: false,
            appendedFields: response.appendedFields, into: &buffer)
        if !isHead { buffer.append(contentsOf: response.body) }
        try? await socket.write(buffer, stallTimeout: configuration.writeTimeout)
        socket.shutdownWrite()
        await drainBeforeClose(limit: drain.limit, duration: drain.duration)
    }

    /// Answers `503` to a request whose body would take the buffered bodies over
    /// ``ServerConfiguration/maxBufferedBodyBytes``, then the connection closes. Nothing reached the handler, so the
    /// request may be retried as it is. The client may still be sending the body: the connection lingers for it
    /// (as after an early answer), so the answer is not lost to a reset.
    private func failOverBudget(isHead: Bool) async {
        if bodyBudget.countRefusal() {
            logger.warning(
                "requests refused: buffered request bodies at their limit (logged at most every 10 s)",
                metadata: [
                    "limit": "\(bodyBudget.limit)", "in-use": "\(bodyBudget.inUse)",
                    "refused-total": "\(bodyBudget.refusals)",
                ])
        }
        await fail(
            status: 503,
            detail: "The gateway is holding too many request bodies in memory. Retry shortly.",
            isHead: isHead, retryAfter: 1,
            drain: (limit: max(256 * 1024, configuration.limits.maxBodySize), duration: .seconds(3)))
    }

    /// RFC 9112 §9.6: closing with unread input makes the kernel send a reset, which can destroy the response
    /// before the client reads it. Read and discard what the client still sends (at most `limit` bytes, at most
    /// `duration`) until it closes its side; the caller closes the connection afterwards.
    private func drainBeforeClose(limit: Int = 256 * 1024, duration: Duration = .seconds(1)) async {
        let deadline = ContinuousClock.now + duration
        var discarded = 0
        while discarded < limit {
            guard let count = try? await socket.read(deadline: deadline, { _ in }), count > 0 else { return }
            discarded += count
        }
    }

    /// RFC 9112 §6.3: 1xx, 204 and 304 responses have no body.
    static func isBodyless(_ status: Int) -> Bool {
        status < 200 || status == 204 || status == 304
    }

    /// RFC 9110 §6.6.1: a server with a clock sends Date; a handler's (an upstream's) own Date is passed through.
    /// Added to the appended fields, not to `head`, whose fields may be shared (a replay's).
    static func addDate(to response: inout GatewayResponse) {
        if !response.encodedHeadHasDate, !response.head.headerFields.contains(.date), !response.appendedFields.contains(.date) {
            response.appendedFields.append(HTTPField(name: .date, value: DateHeader.now()))
        }
    }

    /// RFC 9110 §9.3.2: a HEAD response carries the length a GET would have had: the handler's Content-Length, else
    /// `fallback` (none when neither is known; the response itself has no body).
    static func headLength(of head: HTTPResponse, otherwise fallback: Int?) -> Int? {
        head.headerFields[.contentLength].flatMap { Int($0) } ?? fallback
    }

    /// Writes a response with recomputed framing (RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304).
    /// - Parameter buffer: the connection's output buffer, reused from response to response (emptied here).
    private func write(
        _ response: consuming GatewayResponse, for head: RequestSummary, keepAlive: Bool, using buffer: inout [UInt8]
    ) async throws(SocketError) {
        // Kept for the next response while small (an idle connection holds at most 4 KiB for it).
        defer { buffer.removeAll(keepingCapacity: buffer.capacity <= 4096) }
        let separateBody = Self.encode(response, for: head, keepAlive: keepAlive, inlineBodyUpTo: 65536, into: &buffer)
        let stall = configuration.writeTimeout
        try await socket.write(buffer, stallTimeout: stall)
        if let separateBody { try await socket.write(separateBody, stallTimeout: stall) }
    }

    /// Encodes a buffered response into `buffer` with recomputed framing (RFC 9112 §6.3: no body for HEAD, 1xx, 204
    /// and 304) and the server's `Date`. Returns the body when it is to be written after the buffer (over
    /// `inlineBodyUpTo` bytes, not copied).
    static func encode(
        _ response: consuming GatewayResponse, for head: RequestSummary, keepAlive: Bool, inlineBodyUpTo inline: Int,
        into buffer: inout [UInt8]
    ) -> [UInt8]? {
        let bodyless = isBodyless(response.head.status.code)
        let isHead = head.method == .head
        var contentLength: Int? = bodyless ? nil : response.body.count
        if isHead, !bodyless {
            // The length of the body the handler computed, when it gave no Content-Length.
            contentLength = headLength(of: response.head, otherwise: response.body.isEmpty ? nil : response.body.count)
        }
        let sendBody = !bodyless && !isHead && !response.body.isEmpty
        let inlined = sendBody && response.body.count <= inline
        buffer.reserveCapacity(256 + (inlined ? response.body.count : 0))
        addDate(to: &response)
        HTTPEncoder.encodeResponseHead(
            response.head, version: head.version, contentLength: contentLength, chunked: false, keepAlive: keepAlive,
            appendedFields: response.appendedFields, encoded: response.encodedHead, into: &buffer)
        if inlined { buffer.append(contentsOf: response.body) }
        return sendBody && !inlined ? response.body : nil
    }

    /// Writes a response whose body is a stream, piece by piece as it is read (the head goes out first):
    /// `Content-Length` when the stream knows its length (RFC 9112 §6.2), else chunked to an HTTP/1.1 client
    /// (RFC 9112 §7.1), else close-delimited to an HTTP/1.0 client (RFC 9112 §6.3 rule 8, `Connection: close`).
    /// HEAD, 1xx, 204 and 304 responses have no body (RFC 9112 §6.3): the stream is cancelled unread.
    ///
    /// Returns whether the connection stays open. Throws when the socket or the stream fails; once the head is
    /// out the client can no longer be told, so the caller closes the connection (a chunked body then lacks its
    /// last chunk, a sized one its last bytes, and a close-delimited one ends in a reset: the client sees the message
    /// is incomplete).
    private func writeStreamed(
        _ response: GatewayResponse, _ stream: any HTTPBodyStream, for head: RequestSummary, keepAlive: Bool
    ) async throws -> Bool {
        let bodyless = Self.isBodyless(response.head.status.code)
        var response = response
        Self.addDate(to: &response)
        let stall = configuration.writeTimeout
        var buffer: [UInt8] = []
        if bodyless || head.method == .head {
            stream.cancel()
            let contentLength = bodyless ? nil : Self.headLength(of: response.head, otherwise: stream.length)
            HTTPEncoder.encodeResponseHead(
                response.head, version: head.version, contentLength: contentLength, chunked: false,
                keepAlive: keepAlive, appendedFields: response.appendedFields, encoded: response.encodedHead,
                into: &buffer)
            try await socket.write(buffer, stallTimeout: stall)
            return keepAlive
        }
        let length = stream.length
        let chunked = length == nil && head.version == .http1_1
        let keepAlive = keepAlive && (length != nil || chunked)
        HTTPEncoder.encodeResponseHead(
            response.head, version: head.version, contentLength: length, chunked: chunked, keepAlive: keepAlive,
            appendedFields: response.appendedFields, encoded: response.encodedHead, into: &buffer)
        do {
            try await socket.write(buffer, stallTimeout: stall)
            var sent = 0
            var framed: [UInt8] = []  // one framing buffer for the whole body
            while let piece = try await stream.next() {
                sent += piece.count
                if let length, sent > length { throw StreamedResponseError.longerThanItsLength }
                if chunked {
                    framed.removeAll(keepingCapacity: true)
                    HTTPEncoder.encodeChunk(piece, into: &framed)
                    try await socket.write(framed, stallTimeout: stall)
                } else {
                    try await socket.write(piece, stallTimeout: stall)
                }
            }
            if let length, sent != length { throw StreamedResponseError.shorterThanItsLength }
            if chunked {
                var last: [UInt8] = []
                HTTPEncoder.encodeLastChunk(into: &last)
                try await socket.write(last, stallTimeout: stall)
            }
        } catch {
            stream.cancel()
            // A close-delimited body (HTTP/1.0 client, unknown length) ends where the connection does: closed with a
            // FIN, the part sent would read as the whole body. A reset tells the client it is not.
            if length == nil && !chunked { socket.resetOnClose() }
            throw error
        }
        return keepAlive
    }
}

/// A request head as the server read it: decoded for the handler, or kept as bytes for its byte path.
enum IncomingHead {
    case parsed(RequestHead)
    case raw(RawRequestHead)

    var method: HTTPRequest.Method {
        switch self {
        case .parsed(let head): head.request.method
        case .raw(let head): head.method
        }
    }

    var version: HTTPVersion {
        switch self {
        case .parsed(let head): head.version
        case .raw(let head): head.version
        }
    }

    var keepAlive: Bool {
        switch self {
        case .parsed(let head): head.keepAlive
        case .raw(let head): head.keepAlive
        }
    }

    var expectsContinue: Bool {
        switch self {
        case .parsed(let head): head.expectsContinue
        case .raw(let head): head.expectsContinue
        }
    }

    var framing: BodyFraming {
        switch self {
        case .parsed(let head): head.framing
        case .raw(let head): head.framing
        }
    }
}

/// Where a connection served by its loop (``LoopDrivenConnection``) goes on in a task.
enum Resumption: Sendable {
    /// Reading the next request; `event` is one the loop-driven path already took from the decoder (a head it does
    /// not forward itself), handled first.
    case reading(RequestEvent?)
    /// Writing the response to a request the loop-driven path forwarded (its body is streamed, or the connection
    /// closes after it), then reading the next request.
    case responding(GatewayResponse, RequestSummary)
}

/// What writing a response needs to know of its request.
struct RequestSummary: Sendable {
    var method: HTTPRequest.Method
    var version: HTTPVersion
    /// Whether the request allows the connection to stay open (RFC 9112 §9.3).
    var keepAlive: Bool
}

/// A response body stream that did not deliver the length it announced.
enum StreamedResponseError: Error {
    case longerThanItsLength
    case shorterThanItsLength
}
