import GatewayHTTP
import Synchronization

/// A streamed response body that tells the access log how its transfer ended, so that the log line of a streamed
/// response is written once the body is through: `complete`, `broken` (the source failed mid-body), `cut-short`
/// (the transfer stopped early: the client went away, or the server gave up on it) or `not-sent` (stopped before any
/// byte, as for a response to `HEAD`), with the bytes passed on.
final class LoggedBodyStream: HTTPBodyStream {
    /// How a transfer ended.
    enum Ending: String, Sendable {
        case complete, broken, cutShort = "cut-short", notSent = "not-sent"
    }

    private let inner: any HTTPBodyStream
    private let state = Mutex<(bytes: Int, ended: Bool)>((0, false))
    private let ended: @Sendable (Ending, Int) -> Void

    /// - Parameter ended: called once, when the transfer ends (or, should it never be told, when the stream goes away).
    init(_ inner: any HTTPBodyStream, ended: @escaping @Sendable (Ending, Int) -> Void) {
        self.inner = inner
        self.ended = ended
    }

    var length: Int? { inner.length }

    func next() async throws -> [UInt8]? {
        do {
            guard let piece = try await inner.next() else {
                end(.complete)
                return nil
            }
            state.withLock { $0.bytes += piece.count }
            return piece
        } catch {
            end(.broken)
            throw error
        }
    }

    func cancel() {
        inner.cancel()
        end(state.withLock { $0.bytes } == 0 ? .notSent : .cutShort)
    }

    private func end(_ ending: Ending) {
        let bytes: Int? = state.withLock { state in
            if state.ended { return nil }
            state.ended = true
            return state.bytes
        }
        if let bytes { ended(ending, bytes) }
    }

    deinit {
        // Dropped without being read to its end or cancelled: release the source (an upstream connection).
        inner.cancel()
        end(state.withLock { $0.bytes } == 0 ? .notSent : .cutShort)
    }
}
