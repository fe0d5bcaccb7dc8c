// The Idempotency-Key protocol end to end: an embedded gateway on real sockets with a recording backend.
import IdempotencyGateway
import TestSupport
import Testing

@Suite("Gateway: forward, replay, conflict, mismatch, bad keys")
struct ReplayTests {
    @Test("the first request is forwarded; a retry replays status, headers and body byte for byte")
    func forwardThenReplay() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let first = try await post(port: gateway.port, key: "order-1")
            #expect(first.status == 201)
            #expect(first.header("Location") == "/orders/1")
            #expect(first.header("Set-Cookie") == "session=secret-1; HttpOnly")  // the first client gets it
            #expect(first.header("Idempotent-Replayed") == nil)

            let retry = try await post(port: gateway.port, key: "order-1")
            #expect(retry.status == 201)
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(retry.body == first.body)
            #expect(retry.header("Location") == "/orders/1")
            #expect(retry.header("Content-Type") == "application/json")
            #expect(retry.header("Set-Cookie") == nil)  // never stored, never replayed
            #expect(backend.calls == 1)
        }
    }

    @Test("a duplicate while the original is in flight gets 409 with Retry-After and a problem naming the key")
    func conflictWhileInFlight() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        backend.hold()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let original = Task { try await post(port: gateway.port, key: "slow-order") }
            #expect(await eventually(timeout: .seconds(20)) { backend.calls == 1 })

            let duplicate = try await post(port: gateway.port, key: "slow-order")
            #expect(duplicate.status == 409)
            #expect(duplicate.header("Content-Type") == "application/problem+json")
            let retryAfter = try #require(duplicate.header("Retry-After").flatMap { Int($0) })
            #expect((1...60).contains(retryAfter))
            #expect(duplicate.json["status"] as? Int == 409)
            #expect((duplicate.json["detail"] as? String)?.contains("'slow-order'") == true)
            #expect((duplicate.json["type"] as? String)?.hasSuffix("#problem-key-in-flight") == true)

            backend.release()
            #expect(try await original.value.status == 201)
            #expect(try await post(port: gateway.port, key: "slow-order").header("Idempotent-Replayed") == "true")
            #expect(backend.calls == 1)
        }
    }

    @Test("the same key with another body gets 422, and the original request still replays")
    func mismatchKeepsTheOriginal() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let first = try await post(port: gateway.port, key: "k-422", body: #"{"amount":1}"#)
            #expect(first.status == 201)

            let changed = try await post(port: gateway.port, key: "k-422", body: #"{"amount":2}"#)
            #expect(changed.status == 422)
            #expect(changed.header("Content-Type") == "application/problem+json")
            #expect((changed.json["type"] as? String)?.hasSuffix("#problem-key-mismatch") == true)
            #expect((changed.json["detail"] as? String)?.contains("'k-422'") == true)

            let again = try await post(port: gateway.port, key: "k-422", body: #"{"amount":1}"#)
            #expect(again.status == 201)
            #expect(again.header("Idempotent-Replayed") == "true")
            #expect(again.body == first.body)
            #expect(backend.calls == 1)
        }
    }

    @Test("a malformed key, and a missing key where one is required, get 400 problems linking to the docs")
    func badKeys() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.idempotency.requireKey = true
        configuration.idempotency.documentationURL = "https://docs.example/idempotency#"
        try await withGateway(configuration, backend: backend) { gateway in
            for malformed in [#""unterminated"#, "a, b", #""key";p=1"#, String(repeating: "x", count: 256)] {
                let response = try await post(port: gateway.port, key: malformed)
                #expect(response.status == 400, "key \(malformed)")
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(response.json["type"] as? String == "https://docs.example/idempotency#problem-invalid-key")
                #expect(response.json["status"] as? Int == 400)
            }
            let missing = try await post(port: gateway.port, key: nil)
            #expect(missing.status == 400)
            #expect(missing.json["type"] as? String == "https://docs.example/idempotency#problem-missing-key")
            #expect((missing.json["detail"] as? String)?.contains("Idempotency-Key") == true)
            #expect(backend.calls == 0)
        }
    }

    @Test("without require-key a POST with no key is forwarded every time")
    func optionalKey() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            #expect(try await post(port: gateway.port, key: nil).status == 201)
            let second = try await post(port: gateway.port, key: nil)
            #expect(second.status == 201)
            #expect(second.header("Idempotent-Replayed") == nil)
            #expect(backend.calls == 2)
        }
    }

    @Test("a GET with a key is not covered: forwarded untouched every time, never replayed")
    func getPassesThrough() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend { request, call in
            GatewayResponse(status: .ok, body: Array("get \(call)".utf8))
        }
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let headers = [("Idempotency-Key", "get-key"), ("Accept", "text/plain")]
            let first = try await send("GET", "/orders/7?x=1", port: gateway.port, headers: headers)
            let second = try await send("GET", "/orders/7?x=1", port: gateway.port, headers: headers)
            #expect(first.text == "get 1")
            #expect(second.text == "get 2")
            #expect(second.header("Idempotent-Replayed") == nil)
            #expect(backend.calls == 2)
            let seen = try #require(backend.requests.first)
            #expect(seen.head.method == .get)
            #expect(seen.head.path == "/orders/7?x=1")
            #expect(seen.head.headerFields[HTTPField.Name("Idempotency-Key")!] == "get-key")
            #expect(seen.head.headerFields[.accept] == "text/plain")
        }
    }
}
