import GatewayHTTP
import GatewaySockets
import HTTPTypes
import Logging
import Synchronization

/// One client connection: reads requests in order, answers each, and keeps the connection alive as
/// RFC 9112 §9.3 allows. Runs as a single task; all socket waits are non-blocking (``AsyncSocket``).
final class ServerConnection: Sendable {
    private let socket: AsyncSocket
    private unowned let server: HTTPServer
    private let handler: any HTTPHandler
    private let configuration: ServerConfiguration
    private let logger: Logger
    /// True while the connection waits for the first byte of a new request (it may be closed at shutdown).
    private let idle = Mutex(false)

    init(socket: AsyncSocket, server: HTTPServer, handler: any HTTPHandler, configuration: ServerConfiguration, logger: Logger) {
        self.socket = socket
        self.server = server
        self.handler = handler
        self.configuration = configuration
        self.logger = logger
    }

    /// Closes the connection if it is between requests. Called at shutdown.
    func closeIfIdle() {
        if idle.withLock({ $0 }) { socket.close() }
    }

    func forceClose() {
        socket.close()
    }

    func run() async {
        defer { socket.close() }
        var decoder = HTTPRequestDecoder(limits: configuration.limits)
        let connectionInfo = ConnectionInfo(remoteAddress: socket.peer?.host ?? "")
        while true {
            guard let (head, body) = await readRequest(&decoder) else { return }
            var info = connectionInfo
            info.version = head.version
            let request = GatewayRequest(head: head.request, body: body, connection: info, executor: socket.loop)
            let response = await respond(to: request)
            let keepAlive = head.keepAlive && !server.isShuttingDown
            do {
                try await write(response, for: head, keepAlive: keepAlive)
            } catch {
                logger.debug("write failed", metadata: ["error": "\(error)"])
                return
            }
            if !keepAlive {
                socket.shutdownWrite()
                await drainBeforeClose()
                return
            }
        }
    }

    /// Calls the handler; a thrown error becomes its response, or `500`.
    private func respond(to request: GatewayRequest) async -> GatewayResponse {
        do {
            return try await handler.handle(request)
        } catch let error as any HTTPResponseError {
            return error.response
        } catch {
            logger.error("handler failed", metadata: ["error": "\(error)"])
            return ProblemDetails.response(status: 500, detail: "The gateway failed to handle the request.")
        }
    }

    /// Reads one complete request. Returns nil when the connection should close (EOF, timeout, bad input; an
    /// error response has been written where one is due).
    private func readRequest(_ decoder: inout HTTPRequestDecoder) async -> (RequestHead, [UInt8])? {
        var head: RequestHead?
        var body: [UInt8] = []
        var sentContinue = false
        var headerDeadline: ContinuousClock.Instant? = decoder.isIdle ? nil : .now + configuration.headerTimeout
        while true {
            do throws(HTTPParseError) {
                while let event = try decoder.next() {
                    switch event {
                    case .head(let parsed):
                        head = parsed
                        if case .contentLength(let length) = parsed.framing { body.reserveCapacity(length) }
                    case .body(let chunk):
                        if body.isEmpty { body = chunk } else { body.append(contentsOf: chunk) }
                    case .end:
                        if let head { return (head, body) }
                    }
                }
            } catch {
                await fail(status: error.status, detail: error.reason)
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
                deadline = .now + configuration.idleTimeout
            } else {
                if headerDeadline == nil { headerDeadline = .now + configuration.headerTimeout }
                deadline = headerDeadline!
            }
            do {
                let count = try await socket.read(deadline: deadline) { decoder.append($0) }
                if waitingForNewRequest {
                    idle.withLock { $0 = false }
                    headerDeadline = .now + configuration.headerTimeout
                }
                if count == 0 { return nil }  // the peer closed; an incomplete request is dropped
            } catch .timeout {
                if !waitingForNewRequest {
                    await fail(status: 408, detail: head == nil ? "The request header took too long." : "The request body stalled.")
                }
                return nil
            } catch {
                return nil
            }
        }
    }

    /// Marks the connection idle; false when the server is shutting down (the connection should close).
    private func markIdle() -> Bool {
        idle.withLock { $0 = true }
        return !server.isShuttingDown
    }

    /// Answers a request the server rejects itself, then the connection closes.
    private func fail(status: Int, detail: String) async {
        let response = ProblemDetails.response(status: status, detail: detail)
        var buffer: [UInt8] = []
        HTTPEncoder.encodeResponseHead(response.head, version: .http1_1, contentLength: response.body.count, chunked: false, keepAlive: false, into: &buffer)
        buffer.append(contentsOf: response.body)
        try? await socket.write(buffer, stallTimeout: configuration.writeTimeout)
        socket.shutdownWrite()
        await drainBeforeClose()
    }

    /// RFC 9112 §9.6: closing with unread input makes the kernel send a reset, which can destroy the response
    /// before the client reads it. Read and discard what the client still sends (at most 256 KiB, at most 1 s)
    /// until it closes its side; the caller closes the connection afterwards.
    private func drainBeforeClose() async {
        let deadline = ContinuousClock.now + .seconds(1)
        var discarded = 0
        while discarded < 256 * 1024 {
            guard let count = try? await socket.read(deadline: deadline, { _ in }), count > 0 else { return }
            discarded += count
        }
    }

    /// Writes a response with recomputed framing (RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304).
    private func write(_ response: GatewayResponse, for head: RequestHead, keepAlive: Bool) async throws(SocketError) {
        let status = response.head.status.code
        let bodyless = status < 200 || status == 204 || status == 304
        let isHead = head.request.method == .head
        var contentLength: Int? = bodyless ? nil : response.body.count
        if isHead, !bodyless {
            // A HEAD response carries the length a GET would have had: the handler's Content-Length, or the length
            // of the body it computed; none when it gave neither (RFC 9110 §9.3.2; a HEAD response has no body).
            contentLength =
                response.head.headerFields[.contentLength].flatMap { Int($0) }
                ?? (response.body.isEmpty ? nil : response.body.count)
        }
        let sendBody = !bodyless && !isHead && !response.body.isEmpty
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256 + (sendBody && response.body.count <= 65536 ? response.body.count : 0))
        var responseHead = response.head
        if !responseHead.headerFields.contains(.date) {
            // RFC 9110 §6.6.1: a server with a clock sends Date; an upstream's own Date is passed through.
            responseHead.headerFields[.date] = DateHeader.now()
        }
        HTTPEncoder.encodeResponseHead(
            responseHead, version: head.version, contentLength: contentLength, chunked: false, keepAlive: keepAlive,
            into: &buffer)
        let stall = configuration.writeTimeout
        if sendBody, response.body.count <= 65536 {
            buffer.append(contentsOf: response.body)
            try await socket.write(buffer, stallTimeout: stall)
        } else {
            try await socket.write(buffer, stallTimeout: stall)
            if sendBody { try await socket.write(response.body, stallTimeout: stall) }
        }
    }
}
