import Dispatch

/// Runs CPU-heavy or blocking test work on a Dispatch thread and awaits it, so that the two cooperative threads
/// of a 2-core machine stay free for the live servers the parallel tests are talking to.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
