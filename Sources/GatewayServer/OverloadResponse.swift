/// The complete `503` written to connections over the limit, before closing them.
enum OverloadResponse {
    static let bytes: [UInt8] = Array(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8
    )
}
