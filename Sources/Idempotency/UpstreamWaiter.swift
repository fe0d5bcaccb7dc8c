import Synchronization

/// A one-shot result handed from the background upstream task to the waiting client, with a time limit.
///
/// The upstream exchange runs in an unstructured task so that neither the client's disconnect (task
/// cancellation) nor the client's timeout aborts it; the client waits here for at most the upstream timeout.
final class UpstreamWaiter<Value: Sendable>: Sendable {
    private enum State {
        case pending
        case waiting(UnsafeContinuation<Value?, Never>)
        case fulfilled(Value)
        case finished
    }

    /// Unsafe continuations (no allocation per wait): the state machine resumes each exactly once.
    private let state = Mutex(State.pending)
    /// Set by ``stopTimeout()``: the waiter's timeout no longer ends the wait (cancellation still does).
    private let timeoutStopped = Atomic(false)

    /// The value is on its way (an upstream's response head arrived, its body is being read): the waiter keeps
    /// waiting past its timeout. No effect once the timeout has ended the wait.
    func stopTimeout() {
        timeoutStopped.store(true, ordering: .releasing)
    }

    /// Hands the value to the waiter (or keeps it for a waiter still to come). Later calls are ignored.
    /// - Returns: false when no one will take the value (the waiter gave up: timeout or cancellation, or it was
    ///   fulfilled before), so that the caller can release what the value holds.
    @discardableResult
    func fulfil(_ value: Value) -> Bool {
        resume(with: value)
    }

    /// The value, or `nil` when `timeout` passed first or the waiting task was cancelled.
    func wait(timeout: Duration) async -> Value? {
        let timer = TimeoutScheduler.shared.schedule(at: .now + timeout) {
            if !self.timeoutStopped.load(ordering: .acquiring) { self.resume(with: nil) }
        }
        defer { TimeoutScheduler.shared.cancel(timer) }
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Value?, Never>) in
                let ready: Value?? = state.withLock { state in
                    switch state {
                    case .pending:
                        state = .waiting(continuation)
                        return nil
                    case .fulfilled(let value):
                        state = .finished
                        return .some(value)
                    case .waiting, .finished:
                        return .some(nil)
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            self.resume(with: nil)
        }
    }

    /// Resumes the waiter with `value` (`nil`: timeout or cancellation), or records a value for later. Returns
    /// whether `value` went to a waiter or was kept for one.
    @discardableResult
    private func resume(with value: Value?) -> Bool {
        let (continuation, taken): (UnsafeContinuation<Value?, Never>?, Bool) = state.withLock { state in
            switch state {
            case .pending:
                if let value {
                    state = .fulfilled(value)
                    return (nil, true)
                }
                state = .finished
                return (nil, false)
            case .waiting(let continuation):
                state = .finished
                return (continuation, true)
            case .fulfilled, .finished:
                return (nil, false)
            }
        }
        continuation?.resume(returning: value)
        return taken && value != nil
    }
}
