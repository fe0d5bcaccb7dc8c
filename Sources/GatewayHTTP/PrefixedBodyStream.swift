import Synchronization

/// A body stream whose first bytes were already read from another stream: yields them, then the rest of that
/// stream. For a consumer that looked at the start of a body (to see whether it is small enough to hold) and then
/// hands the whole body on.
public final class PrefixedBodyStream: HTTPBodyStream {
    private struct Start {
        var bytes: [UInt8]?
        /// The budget share the start holds, given back once the start is handed out (or the stream cancelled).
        var reservation: BufferedBodyBudget.Reservation?
    }

    private let rest: any HTTPBodyStream
    private let start: Mutex<Start>
    private let onFailure: @Sendable (any Error) -> Void

    /// - Parameters:
    ///   - prefix: the bytes read from `rest` so far (may be empty).
    ///   - rest: the stream they were read from; its ``HTTPBodyStream/length`` is the whole body's.
    ///   - reservation: the share of a ``BufferedBodyBudget`` that `prefix` holds: released when the prefix is handed
    ///     out by ``next()`` or the stream is cancelled, not when the whole body has been read.
    ///   - onFailure: told when reading the rest fails (the body broke off), before the error is thrown on.
    public init(
        prefix: [UInt8], rest: any HTTPBodyStream, reservation: BufferedBodyBudget.Reservation? = nil,
        onFailure: @escaping @Sendable (any Error) -> Void = { _ in }
    ) {
        self.rest = rest
        self.start = Mutex(Start(bytes: prefix.isEmpty ? nil : prefix, reservation: reservation))
        self.onFailure = onFailure
    }

    public var length: Int? { rest.length }

    public func next() async throws -> [UInt8]? {
        let first = start.withLock { start in
            defer { start.reservation = nil }
            return start.bytes.take()
        }
        if let first { return first }
        do {
            return try await rest.next()
        } catch {
            onFailure(error)
            throw error
        }
    }

    public func cancel() {
        start.withLock { $0 = Start() }
        rest.cancel()
    }
}
