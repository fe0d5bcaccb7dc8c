#if canImport(Glibc)
import Glibc
#endif

/// Why a socket operation failed. `errno` is captured at the failure site (see ``SocketError/failed(_:)``).
public enum SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed with `errno`.
    case system(operation: String, errno: Int32)
    /// The peer closed the connection (EOF on read, EPIPE/ECONNRESET on write).
    case disconnected
    /// A deadline passed before the operation could complete.
    case timeout
    /// The socket was closed locally while the operation waited.
    case closed
    /// A host name or address could not be turned into a socket address.
    case badAddress(String)

    /// Captures the current `errno` for `operation`. Call it right after the failing call.
    public static func failed(_ operation: StaticString) -> SocketError {
        .system(operation: String(describing: operation), errno: errno)
    }

    public var description: String {
        switch self {
        case .system(let operation, let code): "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .disconnected: "connection closed by peer"
        case .timeout: "timed out"
        case .closed: "socket closed"
        case .badAddress(let reason): "bad address: \(reason)"
        }
    }

    /// True when the error means the connection is gone (as opposed to a local failure).
    public var isDisconnection: Bool {
        switch self {
        case .disconnected: true
        case .system(_, let code): code == EPIPE || code == ECONNRESET || code == ENOTCONN || code == ECONNABORTED
        default: false
        }
    }
}
