import GatewayHTTP
import GatewaySockets
import Synchronization

/// A request body handed to the handler while it still arrives: each ``next()`` decodes what the connection's
/// decoder holds and, when that is used up, reads the socket (in the caller's task; no extra task).
///
/// The decoder is lent by the ``ServerConnection`` for the handler's call and taken back with ``detach()``;
/// bytes after the body (a pipelined request) stay in it. `Expect: 100-continue` (RFC 9110 §10.1.1) is answered
/// when the body is first pulled, so a handler that never reads the body never solicits it. The body limit
/// (413) and the body timeout (408, the longest pause between two reads) apply as for a buffered body; a
/// failure is remembered so the server can answer it and close.
final class RequestBodyStream: HTTPBodyStream {
    /// Why the body could not be read completely.
    enum Failure: Error, CustomStringConvertible {
        /// The server answers this status (413, 408, 400…) and closes.
        case rejected(status: Int, reason: String)
        /// The client closed or the socket failed: nothing can be answered.
        case disconnected
        /// The stream was used after the handler returned.
        case detached
        /// Two tasks called ``next()`` at once.
        case concurrentRead

        var description: String {
            switch self {
            case .rejected(let status, let reason): "request body rejected (\(status)): \(reason)"
            case .disconnected: "the client disconnected inside the request body"
            case .detached: "the request body is no longer readable (the handler returned)"
            case .concurrentRead: "the request body was read by two tasks at once"
            }
        }
    }

    private struct State {
        var decoder: HTTPRequestDecoder
        /// Body bytes decoded before the stream was made (handed out first).
        var prefix: [UInt8]
        var needsContinue: Bool
        var complete = false
        var failure: Failure?
        var detached = false
        /// A ``next()`` call is running (one reader at a time; see ``next()``).
        var reading = false
    }

    let length: Int?
    private let socket: AsyncSocket
    private let bodyTimeout: Duration
    private let writeTimeout: Duration
    private let state: Mutex<State>

    init(
        decoder: consuming HTTPRequestDecoder, prefix: [UInt8], head: RequestHead, socket: AsyncSocket,
        configuration: ServerConfiguration, needsContinue: Bool
    ) {
        if case .contentLength(let length) = head.framing { self.length = length } else { self.length = nil }
        self.socket = socket
        self.bodyTimeout = configuration.bodyTimeout
        self.writeTimeout = configuration.writeTimeout
        self.state = Mutex(State(decoder: decoder, prefix: prefix, needsContinue: needsContinue))
    }

    /// The next piece. One reader at a time: a call while another is running throws (a socket has one waiter).
    func next() async throws -> [UInt8]? {
        let claimed = state.withLock { state in
            if state.reading { return false }
            state.reading = true
            return true
        }
        guard claimed else { throw Failure.concurrentRead }
        defer { state.withLock { $0.reading = false } }
        while true {
            let step: Step = state.withLock { state in
                if state.detached { return .fail(.detached) }
                if let failure = state.failure { return .fail(failure) }
                if !state.prefix.isEmpty {
                    defer { state.prefix = [] }
                    return .piece(state.prefix)
                }
                if state.complete { return .end }
                do throws(HTTPParseError) {
                    while let event = try state.decoder.next() {
                        switch event {
                        case .body(let bytes) where !bytes.isEmpty: return .piece(bytes)
                        case .end:
                            state.complete = true
                            return .end
                        case .head, .rawHead, .body: continue  // no head inside a body; empty pieces are skipped
                        }
                    }
                } catch {
                    state.failure = .rejected(status: error.status, reason: error.reason)
                    return .fail(state.failure!)
                }
                defer { state.needsContinue = false }
                return state.needsContinue ? .sendContinueThenRead : .read
            }
            switch step {
            case .piece(let bytes): return bytes
            case .end: return nil
            case .fail(let failure): throw failure
            case .sendContinueThenRead:
                do {
                    try await socket.write(HTTPEncoder.continueResponse, stallTimeout: writeTimeout)
                } catch {
                    throw record(.disconnected)
                }
                try await read()
            case .read:
                try await read()
            }
        }
    }

    private enum Step {
        case piece([UInt8])
        case end
        case fail(Failure)
        case sendContinueThenRead
        case read
    }

    /// One read into the decoder; a stall longer than the body timeout is a 408, end of file a disconnection.
    private func read() async throws {
        let count: Int
        do {
            count = try await socket.read(deadline: .now + bodyTimeout) { bytes in
                state.withLock { $0.decoder.append(bytes) }
            }
        } catch .timeout {
            throw record(.rejected(status: 408, reason: "The request body stalled."))
        } catch {
            throw record(.disconnected)
        }
        if count == 0 { throw record(.disconnected) }
    }

    private func record(_ failure: Failure) -> Failure {
        state.withLock { state in
            if state.failure == nil { state.failure = failure }
            return state.failure!
        }
    }

    /// Nothing to release: the connection decides after the handler returns whether to drain or close.
    func cancel() {}

    /// Ends the handler's loan: returns the decoder, whether the body was read to its end, and the failure if
    /// reading it failed. Later calls of ``next()`` throw.
    func detach() -> (decoder: HTTPRequestDecoder, complete: Bool, failure: Failure?) {
        state.withLock { state in
            state.detached = true
            if state.reading {
                // A read still running (a task the handler left behind) would append to this decoder after it is
                // handed back: report the body incomplete, so the connection closes rather than misframes.
                return (state.decoder, false, state.failure)
            }
            if !state.complete, state.failure == nil, state.prefix.isEmpty {
                // A handler that read exactly the announced length may not have asked for the end: it may already
                // be decodable without waiting (anything else unread means the body is incomplete).
                if case .end? = try? state.decoder.next() { state.complete = true }
            }
            let decoder = state.decoder
            state.decoder = HTTPRequestDecoder(limits: HTTPLimits())
            return (decoder, state.complete && state.prefix.isEmpty, state.failure)
        }
    }
}
