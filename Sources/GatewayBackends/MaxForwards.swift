import GatewayHTTP
import HTTPTypes

/// `Max-Forwards` (RFC 9110 §7.6.2): on OPTIONS and TRACE, a proxy that receives the value 0 does not forward the
/// request but answers as its final recipient; otherwise it forwards the value minus one.
enum MaxForwards {
    /// The field's value, or nil when it is absent or not `1*DIGIT` (then it is forwarded untouched). Values too large
    /// for an `Int` count as `Int.max`.
    static func remaining(in fields: HTTPFields) -> Int? {
        guard let value = fields[.maxForwards], !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { return nil }
        return Int(value) ?? Int.max
    }

    /// The answer of the final recipient: `200` with no content to OPTIONS; to TRACE, the request as received
    /// (`message/http`, RFC 9110 §9.3.8), minus the fields likely to carry credentials ("SHOULD exclude"): the
    /// authorization and cookie fields, and any whose name mentions a key, token, secret, password, session,
    /// credential, signature or auth (an API key in a custom field).
    static func finalResponse(to request: borrowing GatewayRequest) -> GatewayResponse {
        guard request.head.method == .trace else {
            return GatewayResponse(status: .ok)
        }
        let version = request.connection.version == .http1_0 ? "1.0" : "1.1"
        var text = "TRACE \(request.head.path ?? "/") HTTP/\(version)\r\n"
        if let authority = request.head.authority { text += "Host: \(authority)\r\n" }
        for field in request.head.headerFields where !isSensitive(field.name) {
            text += "\(field.name.rawName): \(field.value)\r\n"
        }
        text += "\r\n"
        return GatewayResponse(status: .ok, headerFields: [.contentType: "message/http"], body: Array(text.utf8))
    }

    private static let sensitive: Set<HTTPField.Name> = [.authorization, .proxyAuthorization, .cookie, .setCookie]
    private static let sensitiveWords = [
        "key", "token", "secret", "password", "session", "credential", "signature", "auth",
    ]

    static func isSensitive(_ name: HTTPField.Name) -> Bool {
        sensitive.contains(name) || sensitiveWords.contains { name.canonicalName.contains($0) }
    }
}
