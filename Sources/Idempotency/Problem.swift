import GatewayHTTP
import HTTPTypes

/// An RFC 9457 problem detail (`application/problem+json`) as the idempotency layer returns it.
///
/// The body has the members `type`, `title`, `status` (always equal to the HTTP status, RFC 9457 §3.1.2) and
/// `detail`. `type` is a dereferenceable documentation URI: the configured documentation base plus an anchor
/// (draft-ietf-httpapi-idempotency-key-header-07 §2.7 asks error responses to link to documentation). Every
/// problem response carries `Content-Type: application/problem+json`, `Content-Language: en` (as in the
/// draft's examples) and `Cache-Control: no-store`, so no cache keeps an answer that depends on timing. A detail
/// never includes data of another request beyond the client's own key.
public struct Problem: Sendable, Equatable {
    /// The kinds of problem, each with its documentation anchor, title and status.
    public enum Kind: String, Sendable, CaseIterable {
        /// 400: a covered route requires a key and none was sent (draft §2.7).
        case missingKey = "problem-missing-key"
        /// 400: the key is malformed, empty, too long, non-ASCII or repeated (draft §2.1, §5).
        case invalidKey = "problem-invalid-key"
        /// 409: a request with the same key is still being processed (draft §2.6, §2.7).
        case keyInFlight = "problem-key-in-flight"
        /// 422: the key was used with a different request (draft §2.2, §2.7).
        case keyMismatch = "problem-key-mismatch"
        /// 503: the key store failed and the gateway fails closed.
        case storeUnavailable = "problem-store-unavailable"
        /// 503: too many upstream exchanges under a key are running (``IdempotencyConfiguration/maxInFlight``).
        case tooManyInFlight = "problem-too-many-in-flight"
        /// 502: the upstream could not be reached, or the exchange broke.
        case upstreamUnreachable = "problem-upstream-unreachable"
        /// 504: the upstream did not answer in time.
        case upstreamTimeout = "problem-upstream-timeout"

        /// The documentation anchor (the raw value).
        public var anchor: String { rawValue }

        public var status: HTTPResponse.Status {
            switch self {
            case .missingKey, .invalidKey: .badRequest
            case .keyInFlight: .conflict
            case .keyMismatch: .unprocessableContent
            case .storeUnavailable, .tooManyInFlight: .serviceUnavailable
            case .upstreamUnreachable: .badGateway
            case .upstreamTimeout: .gatewayTimeout
            }
        }

        public var title: String {
            switch self {
            case .missingKey: "Idempotency-Key is missing"
            case .invalidKey: "Idempotency-Key is invalid"
            case .keyInFlight: "A request is outstanding for this Idempotency-Key"
            case .keyMismatch: "Idempotency-Key is already used"
            case .storeUnavailable: "Idempotency store unavailable"
            case .tooManyInFlight: "Too many requests in flight"
            case .upstreamUnreachable: "Bad gateway"
            case .upstreamTimeout: "Gateway timeout"
            }
        }
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The `type` URI for `kind` under `documentationBaseURL`.
    public static func typeURI(_ kind: Kind, documentationBaseURL: String) -> String {
        documentationBaseURL + kind.anchor
    }

    /// The JSON body.
    public func body(documentationBaseURL: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + detail.utf8.count)
        out.append(contentsOf: #"{"type":"#.utf8)
        JSON.appendString(Self.typeURI(kind, documentationBaseURL: documentationBaseURL), to: &out)
        out.append(contentsOf: #","title":"#.utf8)
        JSON.appendString(kind.title, to: &out)
        out.append(contentsOf: #","status":"#.utf8)
        out.append(contentsOf: String(kind.status.code).utf8)
        out.append(contentsOf: #","detail":"#.utf8)
        JSON.appendString(detail, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The complete response, with `extraFields` (e.g. `Retry-After`) added.
    public func response(documentationBaseURL: String, extraFields: HTTPFields = [:]) -> GatewayResponse {
        var fields = HTTPFields()
        fields[.contentType] = "application/problem+json"
        fields[.contentLanguage] = "en"
        fields[.cacheControl] = "no-store"
        fields.append(contentsOf: extraFields)
        return GatewayResponse(
            status: kind.status, headerFields: fields, body: body(documentationBaseURL: documentationBaseURL))
    }
}

/// Minimal JSON string encoding (RFC 8259 §7).
enum JSON {
    /// Appends `string` as a quoted JSON string: `"` and `\` escaped, control characters as `\n`, `\t`… or
    /// `\u00XX`; everything else (UTF-8 included) copied.
    static func appendString(_ string: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x08: out.append(contentsOf: #"\b"#.utf8)
            case 0x0C: out.append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
