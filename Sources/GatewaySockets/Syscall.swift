#if canImport(Glibc)
import Glibc
#endif

/// The result of a non-blocking system call: a value, or "try again when the descriptor is ready".
public enum IOResult<Value: Sendable>: Sendable {
    case done(Value)
    case wouldBlock
}

/// Runs a system call that returns -1 and sets `errno` on failure: retries on `EINTR`, turns `EAGAIN` /
/// `EWOULDBLOCK` into ``IOResult/wouldBlock``, and throws ``SocketError`` for anything else.
/// This is the one place where EINTR and EAGAIN are handled.
@inline(__always)
func syscall<T: BinaryInteger & Sendable>(_ operation: StaticString, _ call: () -> T) throws(SocketError) -> IOResult<T> {
    while true {
        let result = call()
        if result >= 0 { return .done(result) }
        switch errno {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK, EINPROGRESS: return .wouldBlock
        case EPIPE, ECONNRESET: throw .disconnected
        default: throw .failed(operation)
        }
    }
}
