import GatewayHTTP
import HTTPTypes

/// The built-in backend used when no upstream is configured: it answers every request with `200` and a JSON
/// document describing it, so the gateway can be tried on a fresh machine with nothing else running.
///
/// ```json
/// {"method":"POST","path":"/orders?x=1","headers":[["Content-Type","application/json"]],"body":"{\"a\":1}"}
/// ```
/// A body that is not valid UTF-8 is returned as `bodyBase64` instead of `body`. Requests with a
/// `Echo-Delay-Ms` header wait that long first (at most 60 s; handy to watch `409` while a request is in
/// flight), and `Echo-Status` picks the status code (100–599 ignored outside that range).
public struct EchoBackend: HTTPHandler {
    public init() {}

    public func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        let head = request.head
        if let delay = head.headerFields[.echoDelay].flatMap({ Int($0) }), delay > 0 {
            try await Task.sleep(for: .milliseconds(min(delay, 60_000)))
        }
        var json = #"{"method":"\#(ProblemDetails.jsonEscaped(head.method.rawValue))""#
        json += #","path":"\#(ProblemDetails.jsonEscaped(head.path ?? ""))""#
        if let host = head.authority { json += #","host":"\#(ProblemDetails.jsonEscaped(host))""# }
        json += #","headers":["#
        var first = true
        for field in head.headerFields {
            if !first { json += "," }
            first = false
            json += #"["\#(ProblemDetails.jsonEscaped(field.name.rawName))","\#(ProblemDetails.jsonEscaped(field.value))"]"#
        }
        json += "]"
        if let text = String(validating: request.body, as: UTF8.self) {
            json += #","body":"\#(ProblemDetails.jsonEscaped(text))"}"#
        } else {
            json += #","bodyBase64":"\#(Base64.encode(request.body))"}"#
        }
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        var status = HTTPResponse.Status.ok
        if let code = head.headerFields[.echoStatus].flatMap({ Int($0) }), (200...599).contains(code) {
            status = HTTPResponse.Status(code: code)
        }
        return GatewayResponse(status: status, headerFields: fields, body: Array(json.utf8))
    }
}

extension HTTPField.Name {
    static let echoDelay = HTTPField.Name("Echo-Delay-Ms")!
    static let echoStatus = HTTPField.Name("Echo-Status")!
}

/// Standard base64 (RFC 4648 §4), for echoing binary bodies without Foundation.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
