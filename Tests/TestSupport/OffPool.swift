import Dispatch

/// Runs CPU-heavy or blocking test work on a thread of its own and awaits it, so that the threads that run Swift
/// tasks stay free for the live servers the parallel tests are talking to.
///
/// Not `DispatchQueue.global()`: on Linux, Swift's global executor runs tasks on that same root queue, whose width is
/// the core count (2 here), so blocking work there starves every test's tasks. A queue created with a label targets
/// the overcommit root queue instead, which starts another thread when its threads are busy.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        offPoolQueue.async { continuation.resume(with: Result { try work() }) }
    }
}

/// ``offPool(_:)`` for work that cannot fail.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        offPoolQueue.async { continuation.resume(returning: work()) }
    }
}

/// A concurrent queue of the overcommit pool, for blocking or CPU-heavy test work (see ``offPool(_:)``).
public let offPoolQueue = DispatchQueue(label: "tests.off-pool", attributes: .concurrent)
