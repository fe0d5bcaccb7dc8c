import Testing

@testable import GatewayStore

/// complete, release, delete, the sweep, key iteration, statistics and closing, run against every store.
@Suite("KeyStore lifecycle")
struct KeyStoreLifecycleTests {
    @Test("complete needs the owner and an in-flight record", arguments: StoreKind.allCases)
    func complete(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let claim = makeClaim("k1")
            let response = makeResponse()
            #expect(try await store.complete(claim.key, owner: claim.owner, response: response, expiresAt: t0 + ttl) == false,
                "no record yet")
            _ = try await store.claim(claim, likelyNew: true)
            #expect(try await store.complete(claim.key, owner: .random(), response: response, expiresAt: t0 + ttl) == false)
            #expect(try await store.complete(claim.key, owner: claim.owner, response: response, expiresAt: t0 + ttl))
            #expect(try await store.complete(claim.key, owner: claim.owner, response: makeResponse(status: 500), expiresAt: t0 + ttl) == false,
                "a completed record cannot be completed again")
            #expect(try await store.record(for: claim.key)?.response == response)
        }
    }

    @Test("release deletes only the owner's in-flight record", arguments: StoreKind.allCases)
    func release(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let claim = makeClaim("k1")
            _ = try await store.claim(claim, likelyNew: true)
            #expect(try await store.release(claim.key, owner: .random()) == false)
            #expect(try await store.release(claim.key, owner: claim.owner))
            #expect(try await store.record(for: claim.key) == nil)
            #expect(try await store.release(claim.key, owner: claim.owner) == false)
            // The client may retry.
            #expect(try await store.claim(makeClaim("k1"), likelyNew: false) == .claimed(tookOver: false))

            let done = makeClaim("k2")
            _ = try await store.claim(done, likelyNew: true)
            _ = try await store.complete(done.key, owner: done.owner, response: makeResponse(), expiresAt: t0 + ttl)
            #expect(try await store.release(done.key, owner: done.owner) == false, "completed records are not released")
            #expect(try await store.record(for: done.key)?.state == .completed)
        }
    }

    @Test("delete removes a record whatever its state", arguments: StoreKind.allCases)
    func delete(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let key = RecordKey(scope: "tenant-a", key: "k1")
            #expect(try await store.delete(key) == false)
            let claim = makeClaim("k1")
            _ = try await store.claim(claim, likelyNew: true)
            _ = try await store.complete(key, owner: claim.owner, response: makeResponse(), expiresAt: t0 + ttl)
            #expect(try await store.delete(key))
            #expect(try await store.record(for: key) == nil)
            #expect(try await store.delete(key) == false)
        }
    }

    @Test("deleteExpired sweeps in batches of at most `limit`", arguments: StoreKind.allCases)
    func deleteExpired(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            // 15 abandoned in-flight claims and 10 completed records expire at t0 + 500; 5 live records remain.
            for index in 0..<25 {
                var claim = makeClaim("expired-\(index)")
                claim.expiresAt = t0 + 500
                _ = try await store.claim(claim, likelyNew: true)
                if index >= 15 {
                    _ = try await store.complete(claim.key, owner: claim.owner, response: makeResponse(), expiresAt: t0 + 500)
                }
            }
            for index in 0..<5 { _ = try await store.claim(makeClaim("live-\(index)"), likelyNew: true) }
            let now = t0 + 500
            let before = try await store.statistics(now: now)
            #expect(before.expired == 25)
            #expect(before.inFlight == 5)

            #expect(try await store.deleteExpired(now: now, limit: 10) == 10)
            #expect(try await store.deleteExpired(now: now, limit: 10) == 10)
            #expect(try await store.deleteExpired(now: now, limit: 10) == 5)
            #expect(try await store.deleteExpired(now: now, limit: 10) == 0)
            #expect(try await store.deleteExpired(now: now, limit: 0) == 0)

            var keys: Set<String> = []
            try await store.forEachKey { keys.insert($0.key) }
            #expect(keys == Set((0..<5).map { "live-\($0)" }))
        }
    }

    @Test(
        "statistics count live in-flight (and of them those whose lease ended), live completed and expired records",
        arguments: StoreKind.allCases)
    func statistics(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            for index in 0..<3 { _ = try await store.claim(makeClaim("flight-\(index)"), likelyNew: true) }
            // Claimed earlier: its lease is over at t0 + 10, its record is not.
            _ = try await store.claim(makeClaim("stuck", now: t0 - lease), likelyNew: true)
            for index in 0..<4 {
                let claim = makeClaim("done-\(index)")
                _ = try await store.claim(claim, likelyNew: true)
                let expiry = index == 0 ? t0 + 10 : t0 + ttl
                _ = try await store.complete(claim.key, owner: claim.owner, response: makeResponse(), expiresAt: expiry)
            }
            let statistics = try await store.statistics(now: t0 + 10)
            #expect(statistics.inFlight == 4)
            #expect(statistics.leaseEnded == 1)
            #expect(statistics.completed == 3)
            #expect(statistics.expired == 1)
            if kind == .sqliteFile {
                #expect(statistics.fileBytes > 0)
            } else {
                #expect(statistics.fileBytes == 0)
            }
        }
    }

    @Test("forEachKey visits every key once; an error from the body stops it", arguments: StoreKind.allCases)
    func forEachKey(kind: StoreKind) async throws {
        var options = SQLiteKeyStore.Options()
        options.keyPageSize = 7  // several pages, one of them partial
        try await kind.withStore(options: options) { (store) async throws in
            var expected: Set<RecordKey> = []
            for index in 0..<50 {
                let claim = makeClaim("key-\(index)", scope: index % 2 == 0 ? "even" : "odd")
                expected.insert(claim.key)
                _ = try await store.claim(claim, likelyNew: true)
            }
            var seen: [RecordKey] = []
            try await store.forEachKey { seen.append($0) }
            #expect(seen.count == 50)
            #expect(Set(seen) == expected)

            struct Stop: Error {}
            var visited = 0
            do throws(KeyStoreError) {
                try await store.forEachKey { _ in
                    visited += 1
                    if visited == 3 { throw Stop() }
                }
                Issue.record("forEachKey should rethrow")
            } catch {
                guard case .database(let code, _) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(code == 4)  // SQLITE_ABORT
            }
            #expect(visited == 3)
        }
    }

    @Test("large compressible, large random and small bodies round-trip", arguments: StoreKind.allCases)
    func bodies(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let bodies = [compressibleBody(64 * 1024), randomBody(5_000), Array("short".utf8), [], compressibleBody(1024)]
            for (index, body) in bodies.enumerated() {
                let claim = makeClaim("body-\(index)")
                _ = try await store.claim(claim, likelyNew: true)
                let response = StoredResponse(
                    status: 200, fields: [.init(name: "X-Ünïcødé", value: "välue ✓"), .init(name: "Empty", value: "")],
                    body: body)
                #expect(try await store.complete(claim.key, owner: claim.owner, response: response, expiresAt: t0 + ttl))
                #expect(try await store.record(for: claim.key)?.response == response)
            }
        }
    }

    @Test("a closed store refuses every operation", arguments: StoreKind.allCases)
    func closed(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            _ = try await store.claim(makeClaim("k1"), likelyNew: true)
            await store.close()
            await store.close()  // idempotent
            await #expect(throws: KeyStoreError.closed) { try await store.claim(makeClaim("k2"), likelyNew: true) }
            await #expect(throws: KeyStoreError.closed) { try await store.record(for: RecordKey(scope: "", key: "k1")) }
            await #expect(throws: KeyStoreError.closed) { try await store.deleteExpired(now: t0, limit: 10) }
            await #expect(throws: KeyStoreError.closed) { try await store.statistics(now: t0) }
        }
    }
}
