import GatewayHTTP
import HTTPTypes

/// The complete `503` written to connections over the limit (or arriving during shutdown), before closing them: an
/// RFC 9457 problem like the server's other errors, with `Retry-After` (RFC 9110 §10.2.3) and `Date` (§6.6.1).
enum OverloadResponse {
    /// The response's bytes, dated now.
    static func bytes() -> [UInt8] {
        var fields = HTTPFields()
        fields[.retryAfter] = "1"
        fields[.date] = DateHeader.now()
        let response = ProblemDetails.response(
            status: 503, detail: "The gateway has reached its connection limit (or is shutting down). Retry shortly.",
            headerFields: fields)
        var bytes: [UInt8] = []
        HTTPEncoder.encodeResponseHead(
            response.head, version: .http1_1, contentLength: response.body.count, chunked: false, keepAlive: false,
            into: &bytes)
        bytes.append(contentsOf: response.body)
        return bytes
    }
}
