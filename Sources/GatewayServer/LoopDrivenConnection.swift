import GatewayHTTP
import GatewaySockets
import Synchronization

extension ServerConnection {
    /// Starts serving the connection: driven by its loop's events while its requests take the handler's loop-driven
    /// byte path (``LoopForwarding``), otherwise in a task (``run(resuming:decoder:first:)``). `onEnd` runs once,
    /// when the connection is closed and done with.
    func start(onEnd: @escaping @Sendable () -> Void) {
        if let forwarding = byteForwarding as? any LoopForwarding {
            serveOnLoop(forwarding, decoder: makeDecoder(), first: true, onEnd: onEnd)
        } else {
            // The connection's task runs on its socket's loop: socket events resume it without a thread hop.
            socket.loop.spawn {
                await self.run()
                onEnd()
            }
        }
    }

    /// Serves the connection on its loop's events, from `decoder` on.
    func serveOnLoop(
        _ forwarding: any LoopForwarding, decoder: HTTPRequestDecoder, first: Bool, onEnd: @escaping @Sendable () -> Void
    ) {
        let connection = LoopDrivenConnection(
            connection: self, forwarding: forwarding, decoder: decoder, first: first, onEnd: onEnd)
        socket.loop.execute { connection.serve() }
    }

    /// Runs the connection's task from `resumption`, until it closes or goes back to its loop.
    func continueInTask(
        _ resumption: Resumption, decoder: HTTPRequestDecoder, first: Bool, forwarding: any LoopForwarding,
        onEnd: @escaping @Sendable () -> Void
    ) {
        socket.loop.spawn {
            guard let decoder = await self.run(resuming: resumption, decoder: decoder, first: first) else {
                onEnd()
                return
            }
            LoopDrivenCounters.returned.add(1, ordering: .relaxed)
            self.serveOnLoop(forwarding, decoder: decoder, first: false, onEnd: onEnd)
        }
    }
}

/// What loop-driven connections (``LoopDrivenConnection``) did since the process started, for the tests that show
/// which way requests went.
public enum LoopDrivenCounters {
    /// Requests forwarded without a task (counted when their connection ends or is handed over).
    public static let forwarded = Atomic<Int>(0)
    /// Connections handed over to their task.
    public static let handedOver = Atomic<Int>(0)
    /// Connections their task gave back to their loop (``ServerConnection/plainRequestsBeforeLoop``).
    public static let returned = Atomic<Int>(0)
}

/// A client connection served on its loop's queue without a task, for as long as its requests are plain forwards
/// (``LoopForwarding``): the loop's readiness callbacks read a request, the handler forwards it and calls back with
/// the response, which is written at once (or when the socket drains), then the next request is read. Requests on
/// a keep-alive connection that are complete in what arrived, have at most a `Content-Length` body and are
/// accepted by the byte path never suspend a task.
///
/// Anything else is handed over to the connection's task (``ServerConnection/run(resuming:decoder:first:)``), which
/// serves it exactly as for any other handler: a head the byte path declines (a keyed request, a chunked body,
/// `Expect: 100-continue`), a head or body not yet complete (read under the header and body timeouts there), a
/// request that fails to parse (answered there), a response whose body is streamed, and a response after which the
/// connection closes. The task gives the connection back to its loop after
/// ``ServerConnection/plainRequestsBeforeLoop`` byte-path requests in a row with nothing more buffered.
///
/// `@unchecked Sendable`: confined to the loop's queue. It is made on the accept queue and handed to the loop before
/// any use (``IOLoop/execute(_:)`` orders the two); its socket's handler calls run on the loop's queue; the
/// forwarding's completion runs there or in a task on the loop, whose jobs the loop runs on the same queue. A
/// hand-over passes the decoder on and never touches it again. For the same reason its mutable state is
/// `@exclusivity(unchecked)`: one thread, and no access overlaps another (the dynamic checks cost several per cent
/// of the path's CPU).
final class LoopDrivenConnection: SocketEventHandler, @unchecked Sendable {
    private let connection: ServerConnection
    private let forwarding: any LoopForwarding
    private let socket: AsyncSocket
    private let onEnd: @Sendable () -> Void
    @exclusivity(unchecked) private var decoder: HTTPRequestDecoder
    private let connectionInfo: ConnectionInfo
    /// No request has been served yet (a client that connects and sends nothing is held for the header timeout).
    @exclusivity(unchecked) private var first = true
    /// When the wait for the next request ends (fixed when it starts: empty lines do not extend it).
    @exclusivity(unchecked) private var idleDeadline: LoopTime?
    /// Input arrived since the last request was forwarded (or since the connection opened).
    @exclusivity(unchecked) private var inputSinceRequest = false
    /// The request being forwarded.
    @exclusivity(unchecked) private var request: RequestSummary?
    /// The buffered body's share of the server's budget (bytes taken), held until the answer came.
    @exclusivity(unchecked) private var reserved = 0
    /// While the forwarding call runs: a response given back before it returns waits here.
    @exclusivity(unchecked) private var forwardingNow = false
    @exclusivity(unchecked) private var earlyResponse: GatewayResponse?
    /// The response being written (its head, with its body when small), how much of it went out, and a large
    /// body written after it without being copied.
    @exclusivity(unchecked) private var output: [UInt8] = []
    @exclusivity(unchecked) private var written = 0
    @exclusivity(unchecked) private var largeBody: [UInt8] = []
    /// Set once the connection closed or was handed over.
    @exclusivity(unchecked) private var finished = false
    /// Requests this connection forwarded (added to ``LoopDrivenCounters/forwarded`` when it ends: one shared atomic
    /// per connection, not per request).
    @exclusivity(unchecked) private var forwardedCount = 0
    /// The wait for a request, in nanoseconds: the idle timeout, and for the first request the header timeout if
    /// shorter (a client that connects and sends nothing is held no longer than one that sends a head slowly).
    private let idleWait: Int64
    private let firstWait: Int64

    init(
        connection: ServerConnection, forwarding: any LoopForwarding, decoder: HTTPRequestDecoder, first: Bool,
        onEnd: @escaping @Sendable () -> Void
    ) {
        self.connection = connection
        self.forwarding = forwarding
        self.socket = connection.socket
        self.onEnd = onEnd
        self.decoder = decoder
        self.first = first
        self.connectionInfo = ConnectionInfo(remoteAddress: connection.socket.peer?.host ?? "")
        let idle = connection.configuration.idleTimeout
        self.idleWait = LoopTime.nanoseconds(of: idle)
        self.firstWait = LoopTime.nanoseconds(of: min(connection.configuration.headerTimeout, idle))
    }

    /// Reads and forwards requests until one is in flight, the socket has nothing yet (its callback goes on), the
    /// connection was handed over, or it closed.
    func serve() {
        while true {
            switch nextRequest() {
            case .needInput:
                guard readMore() else { return }
            case .forwarded:
                // Usually the response comes later (its callback goes on); one given back at once is written now.
                guard let response = earlyResponse.take(), write(response) else { return }
            case .handOver(let event):
                handOver(.reading(event))
                return
            }
        }
    }

    private enum Step {
        case needInput
        case forwarded
        case handOver(RequestEvent?)
    }

    /// Decodes the next request from what arrived and forwards it when this path can.
    private func nextRequest() -> Step {
        // Budget bytes taken for a body, given back if its decoding fails.
        var taken = 0
        do throws(HTTPParseError) {
            guard let event = try decoder.next() else {
                // Part of a head: the task reads the rest, under the header timeout.
                return decoder.isIdle ? .needInput : .handOver(nil)
            }
            guard case .rawHead(let head) = event, connection.takesBytePath(head, forwarding) else { return .handOver(event) }
            var length = 0
            if case .contentLength(let bodyLength) = head.framing { length = bodyLength }
            // The whole body is here, and the budget for buffered bodies has room for it: it is taken now.
            guard decoder.bufferedByteCount >= length else { return .handOver(event) }
            guard connection.bodyBudget.take(length) else { return .handOver(event) }  // refused there, with its 503
            taken = length
            var body: [UInt8] = []
            while let part = try decoder.next() {
                switch part {
                case .body(let chunk):
                    if body.isEmpty { body = chunk } else { body.append(contentsOf: chunk) }
                case .end:
                    forward(head, body: body, reserved: length)
                    return .forwarded
                case .head, .rawHead:
                    break
                }
            }
            // A body of a known length that is all here always ends above.
            assertionFailure("a buffered Content-Length body did not end")
            connection.bodyBudget.release(length)
            close()
            return .forwarded
        } catch {
            // The decoder stays failed: the task answers with the error.
            connection.bodyBudget.release(taken)
            return .handOver(nil)
        }
    }

    /// Reads what the client sent; false when the connection waits for more (its callback goes on) or is done.
    private func readMore() -> Bool {
        // Between requests (only empty lines, if anything, arrived since the last one).
        guard connection.markIdle() else {
            close()  // shutting down
            return false
        }
        // Input came since the wait began and held no request: a client that never stops sending empty lines is cut
        // off at the deadline. (Only then is the clock read: a request ends the wait before this.)
        if inputSinceRequest, let idleDeadline, LoopTime.now >= idleDeadline {
            close()
            return false
        }
        do throws(SocketError) {
            guard let count = try socket.readNow({ decoder.append($0) }) else {
                if idleDeadline == nil {
                    // The wait begins: its deadline is fixed now (empty lines do not extend it). The loop's time
                    // is at most a run slice old, which no idle or header timeout notices.
                    idleDeadline = socket.loop.cycleTime.advanced(byNanoseconds: first ? firstWait : idleWait)
                }
                switch try socket.whenReadable(deadline: idleDeadline, notify: self) {
                case .armed: return false
                case .ready: return true
                }
            }
            guard count > 0 else {
                close()  // the peer closed
                return false
            }
            connection.markBusy()
            inputSinceRequest = true
            return true
        } catch {
            close()
            return false
        }
    }

    /// The client sent something, or its idle time is over (closed quietly, as between requests), or the socket closed.
    func socketReadable(_ error: SocketError?) {
        guard error == nil else {
            close()
            return
        }
        serve()
    }

    private func forward(_ head: RawRequestHead, body: [UInt8], reserved: Int) {
        first = false
        idleDeadline = nil
        inputSinceRequest = false
        request = RequestSummary(method: head.method, version: head.version, keepAlive: head.keepAlive)
        self.reserved = reserved
        var info = connectionInfo
        info.version = head.version
        forwardedCount += 1
        forwardingNow = true
        forwarding.forward(head, body: body, connection: info, on: socket.loop) { response in
            self.answered(consume response)
        }
        forwardingNow = false
    }

    /// The handler's response to the request in flight.
    private func answered(_ response: consuming GatewayResponse) {
        if forwardingNow {
            earlyResponse = consume response  // serve() writes it once the forwarding call returns
            return
        }
        if write(consume response) { serve() }
    }

    /// Writes the response to the request in flight; true when the next request can be read. A response with a
    /// streamed body, or after which the connection closes, is handed over to the task.
    private func write(_ response: consuming GatewayResponse) -> Bool {
        // As in the task: the body's share is given back once the answer came.
        connection.bodyBudget.release(reserved)
        reserved = 0
        guard let request = request.take() else {
            assertionFailure("a response with no request in flight")
            response.bodyStream?.cancel()
            return false
        }
        guard request.keepAlive, !connection.shuttingDown.isSet, response.bodyStream == nil else {
            handOver(.responding(consume response, request))
            return false
        }
        written = 0
        largeBody = ServerConnection.encode(consume response, for: request, keepAlive: true, inlineBodyUpTo: 65536, into: &output) ?? []
        return flush()
    }

    /// Writes what is left of the output, then of a large body; true once all of it went out.
    private func flush() -> Bool {
        do throws(SocketError) {
            while written < output.count + largeBody.count {
                let inOutput = written < output.count
                let sent =
                    inOutput
                    ? try socket.writeNow(output, from: written) : try socket.writeNow(largeBody, from: written - output.count)
                guard let sent else {
                    let stall = LoopTime.now + connection.configuration.writeTimeout
                    switch try socket.whenWritable(deadline: stall, notify: self) {
                    case .armed: return false
                    case .ready: continue
                    }
                }
                written += sent
            }
        } catch {
            close()
            return false
        }
        // Kept for the next response while small (an idle connection holds at most 4 KiB for it).
        output.removeAll(keepingCapacity: output.capacity <= 4096)
        largeBody = []
        return true
    }

    /// The client took more of the response, or stalled for the write timeout, or the socket closed.
    func socketWritable(_ error: SocketError?) {
        guard error == nil else {
            close()
            return
        }
        if flush() { serve() }
    }

    /// The connection's task goes on from here, with the decoder.
    private func handOver(_ resumption: Resumption) {
        LoopDrivenCounters.handedOver.add(1, ordering: .relaxed)
        ended()
        connection.continueInTask(resumption, decoder: decoder, first: first, forwarding: forwarding, onEnd: onEnd)
    }

    private func close() {
        socket.close()
        guard !finished else { return }
        ended()
        onEnd()
    }

    /// Counts what it forwarded.
    private func ended() {
        finished = true
        LoopDrivenCounters.forwarded.add(forwardedCount, ordering: .relaxed)
        forwardedCount = 0
    }
}
