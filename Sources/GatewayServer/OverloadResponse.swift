import GatewayHTTP

/// The complete `503` written to connections over the limit (or arriving during shutdown), before closing them: an
/// RFC 9457 problem like the server's other errors, with `Retry-After` (RFC 9110 §10.2.3) and `Date` (§6.6.1).
enum OverloadResponse {
    private static let body = ProblemDetails.body(
        status: 503, detail: "The gateway has reached its connection limit (or is shutting down). Retry shortly.")
    private static let fields =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\n"
        + "Content-Language: en\r\nRetry-After: 1\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"

    /// The response's bytes, dated now.
    static func bytes() -> [UInt8] {
        var bytes = Array(fields.utf8)
        bytes.reserveCapacity(bytes.count + 40 + body.count)
        bytes.append(contentsOf: "Date: \(DateHeader.now())\r\n\r\n".utf8)
        bytes.append(contentsOf: body)
        return bytes
    }
}
