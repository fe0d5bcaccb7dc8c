/// The request methods the gateway treats specially, recognised from the request line's bytes (RFC 9110 §9): a
/// comparison is an integer comparison, where `HTTPRequest.Method`'s equality compares Strings (and takes
/// the slow path whenever they differ).
public enum KnownMethod: UInt8, Sendable {
    case get, head, post, put, patch, delete, options, trace, connect
    /// Any other method.
    case other
}
