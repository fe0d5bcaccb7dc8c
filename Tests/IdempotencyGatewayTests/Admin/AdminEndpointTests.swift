// The admin listener over real sockets: health, readiness, key look-up and deletion, the bearer token.
import IdempotencyGateway
import TestSupport
import Testing

@testable import GatewayStore

/// A request to the admin listener.
func admin(
    _ path: String, method: String = "GET", gateway: Gateway, headers: [(String, String)] = []
) async throws -> TestClient.Response {
    let port = try #require(gateway.adminPort, "the admin listener is off")
    return try await send(method, path, port: port, headers: headers)
}

@Suite("Admin: health, readiness, keys, token")
struct AdminEndpointTests {
    @Test("/healthz and /readyz answer 200; unknown routes 404")
    func healthAndReadiness() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withGateway(.forTesting(in: directory), backend: RecordingBackend()) { gateway in
            let health = try await admin("/healthz", gateway: gateway)
            #expect(health.status == 200)
            #expect(health.json["status"] as? String == "ok")
            let ready = try await admin("/readyz", gateway: gateway)
            #expect(ready.status == 200)
            #expect(ready.json["status"] as? String == "ready")
            let unknown = try await admin("/nope", gateway: gateway)
            #expect(unknown.status == 404)
            #expect(unknown.header("Content-Type") == "application/problem+json")
            // The admin routes are not served on the client listener: there they reach the backend.
            #expect(try await send("GET", "/healthz", port: gateway.port).status == 201)
        }
    }

    @Test("/readyz answers 503 while the configured upstream is unreachable")
    func readinessWithUnreachableUpstream() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let dead = try DeadPort()  // held for the whole test, so no parallel test can listen on it
        defer { withExtendedLifetime(dead) {} }
        let closedPort = dead.address.port
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.upstream.url = UpstreamEndpoint(parsing: "http://127.0.0.1:\(closedPort)")
        configuration.upstream.connectTimeout = .seconds(2)
        try await withGateway(configuration) { gateway in
            let ready = try await admin("/readyz", gateway: gateway)
            #expect(ready.status == 503)
            #expect(ready.json["upstream"] as? String == "unreachable")
            #expect(try await admin("/healthz", gateway: gateway).status == 200)
        }
    }

    @Test("GET /keys/{key}?scope= shows a record, with its body only on body=true; DELETE frees the key")
    func keyLookupAndDeletion() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let credential = [("Authorization", "Bearer alice")]
            let key = "order:7/a"  // ':' and '/' must be percent-encoded in the admin path
            let encoded = "order%3A7%2Fa"
            #expect(try await post(port: gateway.port, key: key, headers: credential).status == 201)
            var fields = HTTPFields()
            fields[.authorization] = "Bearer alice"
            let scope = gateway.engine.scope(of: fields)
            #expect(scope.count == 64)

            let record = try await admin("/keys/\(encoded)?scope=\(scope)", gateway: gateway)
            #expect(record.status == 200)
            #expect(record.header("Content-Type") == "application/json")
            let json = record.json
            #expect(json["key"] as? String == key)
            #expect(json["scope"] as? String == scope)
            #expect(json["state"] as? String == "completed")
            #expect(json["status"] as? Int == 201)
            #expect(json["method"] as? String == "POST")
            #expect(json["path"] as? String == "/orders")
            #expect((json["fingerprint"] as? String)?.count == 64)
            #expect(json["bodyBytes"] as? Int == #"{"order":1,"bytes":13}"#.utf8.count)
            #expect(json["body"] == nil)
            #expect(json["bodyOmitted"] == nil, "stored whole")
            let headers = (json["headers"] as? [[String]]) ?? []
            #expect(headers.contains(["Location", "/orders/1"]))
            #expect(!headers.contains { $0.first == "Set-Cookie" })

            // The sf-string form, as the client sent it, names the same record.
            #expect(try await admin("/keys/%22\(encoded)%22?scope=\(scope)", gateway: gateway).status == 200)

            let withBody = try await admin("/keys/\(encoded)?scope=\(scope)&body=true", gateway: gateway)
            #expect(withBody.json["body"] as? String == #"{"order":1,"bytes":13}"#)

            // Without the scope the key is another (absent) record.
            #expect(try await admin("/keys/\(encoded)", gateway: gateway).status == 404)

            let deleted = try await admin("/keys/\(encoded)?scope=\(scope)", method: "DELETE", gateway: gateway)
            #expect(deleted.status == 204)
            #expect(try await admin("/keys/\(encoded)?scope=\(scope)", gateway: gateway).status == 404)
            #expect(try await admin("/keys/\(encoded)?scope=\(scope)", method: "DELETE", gateway: gateway).status == 404)

            let again = try await post(port: gateway.port, key: key, headers: credential)
            #expect(again.status == 201)
            #expect(again.header("Idempotent-Replayed") == nil)
            #expect(backend.calls == 2)
        }
    }

    @Test("?scope=- names the unscoped space, as keys list shows it; a body too large to store shows as bodyOmitted")
    func unscopedDashAndOmittedBody() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.idempotency.maxStoredResponseBytes = 8  // the backend's body is 22 bytes
        try await withGateway(configuration, backend: backend) { gateway in
            #expect(try await post(port: gateway.port, key: "big").status == 201)  // no Authorization: unscoped
            let record = try await admin("/keys/big?scope=-", gateway: gateway)
            #expect(record.status == 200)
            #expect(record.text.contains(#""bodyOmitted":true"#))
            #expect(record.json["bodyBytes"] as? Int == 0)
            let headers = (record.json["headers"] as? [[String]]) ?? []
            #expect(!headers.isEmpty)
            #expect(!headers.contains { $0.first?.hasPrefix(":") == true }, "no internal marker among the headers")
            #expect(try await admin("/keys/big?scope=-", method: "DELETE", gateway: gateway).status == 204)
            #expect(try await admin("/keys/big", gateway: gateway).status == 404)
        }
    }

    /// Fail closed on a real SQLite failure: another process holds the write lock past `store.busy-timeout`.
    @Test("a store locked past busy-timeout: keyed requests get 503 problem-store-unavailable and /readyz 503; both recover")
    func lockedStoreFailsClosed() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.store.busyTimeout = .milliseconds(100)
        let backend = RecordingBackend()
        try await withGateway(configuration, backend: backend) { gateway in
            let other = try SQLiteConnection(path: configuration.store.path, flags: SQLiteConnection.writerFlags)
            try other.execute("BEGIN IMMEDIATE")
            let refused = try await post(port: gateway.port, key: "locked")
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.header("Content-Type") == "application/problem+json")
            #expect(refused.text.contains("problem-store-unavailable"))
            #expect(backend.calls == 0, "nothing is forwarded without a claim")
            #expect(try await admin("/readyz", gateway: gateway).status == 503)
            try other.execute("ROLLBACK")
            try other.close()
            #expect(try await admin("/readyz", gateway: gateway).status == 200)
            #expect(try await post(port: gateway.port, key: "locked").status == 201)
            #expect(backend.calls == 1)
        }
    }

    @Test("an in-flight key whose lease is over shows state lease_ended, and keys list shows its lease's end")
    func leaseEndedKey() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        backend.hold()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.idempotency.lease = .milliseconds(300)
        try await withGateway(configuration, backend: backend) { gateway in
            let original = Task { try await post(port: gateway.port, key: "stuck") }
            #expect(await eventually(timeout: .seconds(20)) { backend.calls == 1 })
            // (`in_flight` within the lease is the test below: on a loaded machine this 300 ms lease may be over
            // before the first admin request.)
            #expect(await eventually {
                (try? await admin("/keys/stuck", gateway: gateway).json["state"] as? String) == "lease_ended"
            })
            let listed = try await KeyAdministration.list(scope: nil, limit: 10, storePath: configuration.store.path)
            let row = try #require(listed.split(separator: "\n").first { $0.contains("\tstuck\t") })
            let columns = row.split(separator: "\t").map(String.init)
            #expect(columns[2] == "lease_ended")
            let record = try await admin("/keys/stuck", gateway: gateway).json
            #expect(columns[5] == record["leaseExpires"] as? String, "the lease's end, not the record's")
            backend.release()
            _ = try? await original.value
        }
    }

    @Test("an in-flight key shows state in_flight and its lease")
    func inFlightKey() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        backend.hold()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let original = Task { try await post(port: gateway.port, key: "pending") }
            #expect(await eventually(timeout: .seconds(20)) { backend.calls == 1 })
            let record = try await admin("/keys/pending", gateway: gateway)
            #expect(record.json["state"] as? String == "in_flight")
            #expect(record.json["leaseExpires"] is String)
            #expect(record.json["status"] == nil)
            backend.release()
            #expect(try await original.value.status == 201)
            #expect(try await admin("/keys/pending", gateway: gateway).json["state"] as? String == "completed")
        }
    }

    @Test("other methods get 405 with Allow on every admin route; an empty or invalid key in the path is a 400")
    func methodsAndBadKeys() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withGateway(.forTesting(in: directory), backend: RecordingBackend()) { gateway in
            let routes = [("/healthz", "GET, HEAD"), ("/readyz", "GET, HEAD"), ("/metrics", "GET"), ("/keys/x", "GET, DELETE")]
            for (path, allowed) in routes {
                let refused = try await admin(path, method: "POST", gateway: gateway)
                #expect(refused.status == 405, "\(path)")
                #expect(refused.header("Allow") == allowed, "\(path)")
            }
            let empty = try await admin("/keys/", method: "DELETE", gateway: gateway)
            #expect(empty.status == 400)
            #expect((empty.json["detail"] as? String)?.contains("empty") == true)
            let unterminated = try await admin("/keys/%22abc", gateway: gateway)
            #expect(unterminated.status == 400)
            #expect((unterminated.json["detail"] as? String)?.contains("structured-field string") == true)
            let badEncoding = try await admin("/keys/%zz", gateway: gateway)
            #expect(badEncoding.status == 400)
            #expect((badEncoding.json["detail"] as? String)?.contains("percent-encoding") == true)
            #expect(try await admin("/keys/%22abc%22", gateway: gateway).status == 404, "a valid key with no record")
        }
    }

    @Test("with admin.token every admin route requires the bearer token")
    func bearerToken() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.admin.token = "s3cret-token"
        try await withGateway(configuration, backend: RecordingBackend()) { gateway in
            for path in ["/healthz", "/readyz", "/metrics", "/keys/x"] {
                let refused = try await admin(path, gateway: gateway)
                #expect(refused.status == 401, "\(path)")
                #expect(refused.header("WWW-Authenticate") == "Bearer")
            }
            let wrong = try await admin("/healthz", gateway: gateway, headers: [("Authorization", "Bearer s3cret-tokex")])
            #expect(wrong.status == 401)
            let right = try await admin("/healthz", gateway: gateway, headers: [("Authorization", "Bearer s3cret-token")])
            #expect(right.status == 200)
            // RFC 9110 §11.1: the scheme is case-insensitive.
            let lower = try await admin("/healthz", gateway: gateway, headers: [("Authorization", "bearer  s3cret-token")])
            #expect(lower.status == 200)
            let other = try await admin("/healthz", gateway: gateway, headers: [("Authorization", "Basic s3cret-token")])
            #expect(other.status == 401)
            let metrics = try await admin("/metrics", gateway: gateway, headers: [("Authorization", "Bearer s3cret-token")])
            #expect(metrics.status == 200)
        }
    }
}
