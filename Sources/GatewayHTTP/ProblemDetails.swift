import HTTPTypes

/// Builds RFC 9457 `application/problem+json` responses for errors the server and backends produce themselves
/// (malformed requests, timeouts, overload, unreachable upstreams). `type` is `about:blank`, so `title` is the
/// status phrase (RFC 9457 §4.2.1).
public enum ProblemDetails {
    /// A problem response with `Cache-Control: no-store` and `Content-Language: en`.
    public static func response(status: Int, detail: String, headerFields: HTTPFields = [:]) -> GatewayResponse {
        let status = HTTPResponse.Status(code: status)
        var fields = headerFields
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        fields[.contentLanguage] = "en"
        return GatewayResponse(status: status, headerFields: fields, body: body(status: status.code, detail: detail))
    }

    /// The JSON body: `about:blank`, the status phrase as `title` (RFC 9457 §4.2.1), `status` and `detail`.
    private static func body(status: Int, detail: String) -> [UInt8] {
        let phrase = ReasonPhrase.standard(for: status)
        let title = phrase.isEmpty ? "HTTP \(status)" : phrase
        let body =
            #"{"type":"about:blank","title":"\#(jsonEscaped(title))","status":\#(status),"#
            + #""detail":"\#(jsonEscaped(detail))"}"#
        return Array(body.utf8)
    }

    /// Escapes a string for a JSON string literal (RFC 8259 §7).
    public static func jsonEscaped(_ string: String) -> String {
        var out = ""
        out.reserveCapacity(string.utf8.count)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension UpstreamError: HTTPResponseError {
    /// `504` for a timeout, `502` otherwise (RFC 9110 §15.6.3, §15.6.5).
    public var response: GatewayResponse {
        switch self {
        case .timeout: ProblemDetails.response(status: 504, detail: "The upstream did not answer in time.")
        case .unreachable: ProblemDetails.response(status: 502, detail: "The upstream could not be reached.")
        case .failed: ProblemDetails.response(status: 502, detail: "The upstream exchange failed.")
        }
    }
}
