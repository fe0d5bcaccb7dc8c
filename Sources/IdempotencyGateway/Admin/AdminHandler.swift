import GatewayBackends
import GatewayHTTP
import GatewayStore
import HTTPTypes
import Idempotency

/// The admin listener's routes:
/// - `GET /healthz`: the process answers.
/// - `GET /readyz`: the store answers reads and can take a write, and, with an upstream, a TCP connection to it
///   succeeds.
/// - `GET /metrics`: Prometheus text format.
/// - `GET /keys/{key}?scope=…[&body=true]`: one record as JSON; `DELETE /keys/{key}?scope=…` deletes it.
/// When a token is configured every route requires `Authorization: Bearer <token>`.
struct AdminHandler: HTTPHandler {
    let engine: IdempotencyEngine
    let store: any KeyStore
    let upstream: UpstreamClient?
    let token: String?
    /// The main listener's buffered-body budget, published at each scrape.
    let bufferedBodies: BufferedBodyBudget?

    func handle(_ request: GatewayRequest) async throws -> GatewayResponse {
        if let token, !authorized(request.head.headerFields[.authorization], token: token) {
            var fields = HTTPFields()
            fields[.wwwAuthenticate] = "Bearer"
            return ProblemDetails.response(status: 401, detail: "The admin API requires a bearer token.", headerFields: fields)
        }
        let target = request.head.path ?? "/"
        let (path, query) = Self.split(target)
        switch (request.head.method, path) {
        case (.get, "/healthz"), (.head, "/healthz"):
            return Self.json(200, #"{"status":"ok"}"#)
        case (.get, "/readyz"), (.head, "/readyz"):
            return await readiness()
        case (.get, "/metrics"):
            if let stats = try? await store.statistics(now: IdempotencyEngine.systemNow()) {
                GatewayMetrics.recordKeys(stats)
            }
            GatewayMetrics.requestsInFlight.publish()
            if let bufferedBodies { GatewayMetrics.bufferedBodies.publish(bufferedBodies) }
            var fields = HTTPFields()
            fields[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return GatewayResponse(status: .ok, headerFields: fields, body: GatewayMetrics.exposition())
        case (_, "/healthz"), (_, "/readyz"):
            return Self.methodNotAllowed("GET, HEAD")
        case (_, "/metrics"):
            return Self.methodNotAllowed("GET")
        case (_, _) where path.hasPrefix("/keys/"):
            guard let decoded = Self.percentDecoded(String(path.dropFirst("/keys/".count))) else {
                return ProblemDetails.response(status: 400, detail: "The key in the path is not valid percent-encoding.")
            }
            // The key as a client sends it: `"pay-9"` (the sf-string form) names the same record as `pay-9`. One no
            // request could carry (empty, a bad sf-string) is a 400, as it would be there.
            let key: String
            do throws(IdempotencyKey.Failure) {
                key = try IdempotencyKey.parse(decoded, maxLength: Int.max).value
            } catch {
                return ProblemDetails.response(
                    status: 400, detail: "The key in the path is invalid. \(error)")
            }
            // `-` is the unscoped space, as `keys list` shows it.
            let recordKey = RecordKey(scope: KeyAdministration.scope(query["scope"] ?? ""), key: key)
            switch request.head.method {
            case .get: return try await show(recordKey, includeBody: query["body"] == "true")
            case .delete:
                let existed = try await engine.deleteKey(recordKey)
                return existed
                    ? GatewayResponse(status: .noContent)
                    : ProblemDetails.response(status: 404, detail: "No record for this key and scope.")
            default:
                return Self.methodNotAllowed("GET, DELETE")
            }
        default:
            return ProblemDetails.response(status: 404, detail: "Admin routes: /healthz, /readyz, /metrics, /keys/{key}.")
        }
    }

    private func show(_ key: RecordKey, includeBody: Bool) async throws -> GatewayResponse {
        guard let record = try await engine.record(for: key) else {
            return ProblemDetails.response(status: 404, detail: "No record for this key and scope.")
        }
        return Self.json(200, RecordJSON.render(record, includeBody: includeBody, now: IdempotencyEngine.systemNow()))
    }

    private func readiness() async -> GatewayResponse {
        do {
            _ = try await store.statistics(now: IdempotencyEngine.systemNow())
            // Reads can work while writes cannot (the file locked by another process, a read-only file): a claim
            // would fail, so the gateway is not ready either.
            try await store.checkWritable()
        } catch {
            return Self.json(503, #"{"status":"unavailable","store":"\#(ProblemDetails.jsonEscaped("\(error)"))"}"#)
        }
        if let upstream {
            guard await upstream.isReachable() else {
                return Self.json(503, #"{"status":"unavailable","upstream":"unreachable"}"#)
            }
        }
        return Self.json(200, #"{"status":"ready"}"#)
    }

    /// Constant-time comparison of the bearer token. The scheme is case-insensitive and followed by one or more
    /// spaces (RFC 9110 §11.1, §11.4: `credentials = auth-scheme [ 1*SP token68 ]`).
    private func authorized(_ header: String?, token: String) -> Bool {
        guard let header else { return false }
        let bytes = Array(header.utf8)
        guard bytes.count > 7, String(decoding: bytes[0..<6], as: UTF8.self).lowercased() == "bearer",
            bytes[6] == 0x20
        else { return false }
        let given = Array(bytes[7...].drop { $0 == 0x20 })
        let expected = Array(token.utf8)
        guard given.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        return difference == 0
    }

    /// `405` with the route's methods in `Allow` (RFC 9110 §15.5.6).
    static func methodNotAllowed(_ methods: String) -> GatewayResponse {
        var fields = HTTPFields()
        fields[.allow] = methods
        return ProblemDetails.response(status: 405, detail: "Use \(methods).", headerFields: fields)
    }

    static func json(_ status: Int, _ text: String) -> GatewayResponse {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return GatewayResponse(status: HTTPResponse.Status(code: status), headerFields: fields, body: Array(text.utf8))
    }

    static func split(_ target: String) -> (path: String, query: [String: String]) {
        guard let mark = target.firstIndex(of: "?") else { return (target, [:]) }
        var query: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecoded(String(parts[0])) else { continue }
            query[name] = parts.count > 1 ? percentDecoded(String(parts[1])) ?? "" : ""
        }
        return (String(target[..<mark]), query)
    }

    /// Decodes `%XX` escapes (and `+` as space in queries is not applied: keys may contain `+`).
    static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension HTTPField.Name {
    static let allow = HTTPField.Name("Allow")!
}
