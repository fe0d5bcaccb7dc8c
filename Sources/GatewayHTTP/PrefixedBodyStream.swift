import Synchronization

/// A body stream whose first bytes were already read from another stream: yields them, then the rest of that
/// stream. For a consumer that looked at the start of a body (to see whether it is small enough to hold) and then
/// hands the whole body on.
public final class PrefixedBodyStream: HTTPBodyStream {
    private let rest: any HTTPBodyStream
    private let prefix: Mutex<[UInt8]?>
    private let onFailure: @Sendable (any Error) -> Void

    /// - Parameters:
    ///   - prefix: the bytes read from `rest` so far (may be empty).
    ///   - rest: the stream they were read from; its ``HTTPBodyStream/length`` is the whole body's.
    ///   - onFailure: told when reading the rest fails (the body broke off), before the error is thrown on.
    public init(prefix: [UInt8], rest: any HTTPBodyStream, onFailure: @escaping @Sendable (any Error) -> Void = { _ in }) {
        self.rest = rest
        self.prefix = Mutex(prefix.isEmpty ? nil : prefix)
        self.onFailure = onFailure
    }

    public var length: Int? { rest.length }

    public func next() async throws -> [UInt8]? {
        if let first = prefix.withLock({ $0.take() }) { return first }
        do {
            return try await rest.next()
        } catch {
            onFailure(error)
            throw error
        }
    }

    public func cancel() {
        prefix.withLock { $0 = nil }
        rest.cancel()
    }
}
