// Many clients racing with the same key over real sockets.
import IdempotencyGateway
import TestSupport
import Testing

@Suite("Gateway: concurrent duplicates")
struct ConcurrentDuplicateTests {
    @Test("100 concurrent POSTs with one key: the backend runs once, 99 get 409, then all retries replay")
    func hundredDuplicates() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let backend = RecordingBackend()
        backend.hold()  // the winner waits until every loser has its 409
        try await withGateway(.forTesting(in: directory), backend: backend) { gateway in
            let port = gateway.port
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<100 {
                    group.addTask { try await post(port: port, key: "race-key").status }
                }
                var statuses: [Int] = []
                for try await status in group {
                    statuses.append(status)
                    if statuses.filter({ $0 == 409 }).count == 99 { backend.release() }
                }
                return statuses
            }
            #expect(statuses.filter { $0 == 201 }.count == 1)
            #expect(statuses.filter { $0 == 409 }.count == 99)
            #expect(backend.calls == 1)

            let retry = try await post(port: port, key: "race-key")
            #expect(retry.status == 201)
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(backend.calls == 1)
        }
    }
}
