import GatewayHTTP
import GatewaySockets
import Synchronization

/// An upstream response body read lazily from its connection while the gateway writes it to the client.
///
/// The connection goes back to the pool only when the body was read to its end and the framing allows reuse
/// (keep-alive, not close-delimited, nothing after the body); a consumer that stops early (``cancel()``), a
/// failure, or a stream dropped unfinished closes it. Each read waits at most `stallTimeout` (the upstream
/// response timeout) for the next bytes: a long download is not cut short, a stalled one is.
final class UpstreamBodyStream: HTTPBodyStream {
    private struct State {
        var decoder: HTTPResponseDecoder
        /// Body bytes decoded before the stream was made (handed out first).
        var prefix: [UInt8]
        var eof = false
        /// The body ended, failed or was cancelled: the socket is pooled or closed.
        var finished = false
        var failure: UpstreamError?
    }

    let length: Int?
    private let socket: AsyncSocket
    private let pool: ConnectionPool
    private let keepAlive: Bool
    private let stallTimeout: Duration
    private let state: Mutex<State>

    init(
        socket: AsyncSocket, decoder: consuming HTTPResponseDecoder, head: ResponseHead, prefix: [UInt8],
        pool: ConnectionPool, stallTimeout: Duration
    ) {
        if case .contentLength(let length) = head.framing { self.length = length } else { self.length = nil }
        self.socket = socket
        self.pool = pool
        self.keepAlive = head.keepAlive
        self.stallTimeout = stallTimeout
        self.state = Mutex(State(decoder: decoder, prefix: prefix))
    }

    deinit {
        // Dropped before the end (the consumer neither finished nor cancelled): never pooled.
        if !state.withLock({ $0.finished }) { socket.close() }
    }

    func next() async throws -> [UInt8]? {
        while true {
            let step: Step = state.withLock { state in
                if let failure = state.failure { return .fail(failure) }
                if !state.prefix.isEmpty {
                    defer { state.prefix = [] }
                    return .piece(state.prefix)
                }
                if state.finished { return .done }
                do throws(HTTPParseError) {
                    while let event = state.eof ? try state.decoder.finish() : try state.decoder.next() {
                        switch event {
                        case .body(let bytes) where !bytes.isEmpty:
                            return .piece(bytes)
                        case .end:
                            state.finished = true
                            // RFC 9112 §9.3: reusable when persistent and nothing follows the body.
                            let reusable = keepAlive && !state.eof && !state.decoder.hasBufferedBytes
                            return .end(reuse: reusable ? state.decoder : nil)
                        case .informational, .head, .rawHead, .body:
                            continue
                        }
                    }
                    if state.eof {
                        throw HTTPParseError(status: 502, reason: "the upstream closed the connection mid-body")
                    }
                } catch {
                    state.finished = true
                    state.failure = .failed("invalid response body: \(error.reason)")
                    return .fail(state.failure!)
                }
                return .read
            }
            switch step {
            case .piece(let bytes):
                return bytes
            case .done:
                return nil
            case .end(let reuse):
                if let decoder = reuse { pool.put(socket, decoder: decoder) } else { socket.close() }
                return nil
            case .fail(let error):
                socket.close()
                throw error
            case .read:
                try await read()
            }
        }
    }

    private enum Step {
        case piece([UInt8])
        /// The body ended; the decoder to pool the connection with, or nil when it cannot be reused.
        case end(reuse: HTTPResponseDecoder?)
        case done
        case fail(UpstreamError)
        case read
    }

    private func read() async throws(UpstreamError) {
        let count: Int
        do {
            count = try await socket.read(deadline: .now + stallTimeout) { bytes in
                state.withLock { $0.decoder.append(bytes) }
            }
        } catch .timeout {
            throw fail(.timeout)
        } catch {
            throw fail(.failed("reading the response body: \(error)"))
        }
        if count == 0 { state.withLock { $0.eof = true } }
    }

    private func fail(_ error: UpstreamError) -> UpstreamError {
        let failure = state.withLock { state in
            state.finished = true
            if state.failure == nil { state.failure = error }
            return state.failure!
        }
        socket.close()
        return failure
    }

    func cancel() {
        let wasFinished = state.withLock { state in
            if state.finished { return true }
            state.finished = true
            state.failure = .failed("the response body was cancelled")
            return false
        }
        if !wasFinished { socket.close() }
    }
}
