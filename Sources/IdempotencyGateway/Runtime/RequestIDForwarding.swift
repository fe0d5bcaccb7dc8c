import GatewayHTTP
import HTTPTypes

/// The backend's wrapper: puts the request id that ``RequestLogger`` chose into the forwarded request's
/// `X-Request-Id` field (replacing a client's value that was not sane). It sits behind the idempotency engine, so a
/// replayed or refused request, which is never forwarded, costs no edit of its header fields.
struct RequestIDForwarding: HTTPHandler {
    let next: any HTTPHandler

    func handle(_ request: consuming GatewayRequest) async throws -> GatewayResponse {
        if let requestID = request.requestID, request.head.headerFields[.requestID] != requestID {
            request.head.headerFields[.requestID] = requestID
        }
        return try await next.handle(consume request)
    }

    func acceptsStreamedBody(for head: HTTPRequest) -> Bool {
        next.acceptsStreamedBody(for: head)
    }
}
