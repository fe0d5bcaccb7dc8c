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

    /// Hands the value to the waiter (or keeps it for a waiter still to come). Later calls are ignored.
    func fulfil(_ value: Value) {
        resume(with: value)
    }

    /// The value, or `nil` when `timeout` passed first or the waiting task was cancelled.
    func wait(timeout: Duration) async -> Value? {
        let timer = TimeoutScheduler.shared.schedule(at: .now + timeout) { self.resume(with: nil) }
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

    /// Resumes the waiter with `value` (`nil`: timeout or cancellation), or records a value for later.
    private func resume(with value: Value?) {
        let continuation: UnsafeContinuation<Value?, Never>? = state.withLock { state in
            switch state {
            case .pending:
                if let value { state = .fulfilled(value) } else { state = .finished }
                return nil
            case .waiting(let continuation):
                state = .finished
                return continuation
            case .fulfilled, .finished:
                return nil
            }
        }
        continuation?.resume(returning: value)
    }
}
