import Testing

@testable import GatewayStore

/// The claim decision table of ``KeyStore/claim(_:likelyNew:)``, run against every store.
@Suite("KeyStore claim")
struct KeyStoreClaimTests {
    @Test("a new key is claimed and stored in flight", arguments: StoreKind.allCases, [true, false])
    func newKey(kind: StoreKind, likelyNew: Bool) async throws {
        try await kind.withStore { (store) async throws in
            let claim = makeClaim("k1", method: "PATCH", path: "/v1/orders/7")
            #expect(try await store.claim(claim, likelyNew: likelyNew) == .claimed(tookOver: false))
            let record = try #require(try await store.record(for: claim.key))
            #expect(record.state == .inFlight)
            #expect(record.owner == claim.owner)
            #expect(record.fingerprint == claim.fingerprint)
            #expect(record.createdAt == t0)
            #expect(record.leaseExpiresAt == t0 + lease)
            #expect(record.expiresAt == t0 + ttl)
            #expect(record.method == "PATCH")
            #expect(record.path == "/v1/orders/7")
            #expect(record.response == nil)
        }
    }

    @Test("a duplicate while the lease is live gets the in-flight record", arguments: StoreKind.allCases, [true, false])
    func duplicateInFlight(kind: StoreKind, likelyNew: Bool) async throws {
        try await kind.withStore { (store) async throws in
            let first = makeClaim("k1")
            _ = try await store.claim(first, likelyNew: true)
            let second = makeClaim("k1", now: t0 + lease - 1, fingerprint: 2)
            guard case .inFlight(let record) = try await store.claim(second, likelyNew: likelyNew) else {
                Issue.record("expected .inFlight")
                return
            }
            #expect(record.owner == first.owner)
            #expect(record.fingerprint == first.fingerprint)
            // Nothing changed.
            #expect(try await store.record(for: first.key) == record)
        }
    }

    @Test("an expired lease is taken over by the same request under a new owner, fencing off the old one", arguments: StoreKind.allCases)
    func takeover(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let first = makeClaim("k1")
            _ = try await store.claim(first, likelyNew: true)
            // The lease ends at t0 + lease exactly (`leaseExpiresAt <= now`). A different payload under the key does
            // not take it over (the caller answers 422); nothing changes.
            let other = makeClaim("k1", now: t0 + lease, fingerprint: 2)
            guard case .inFlight(let untouched) = try await store.claim(other, likelyNew: true) else {
                Issue.record("a claim with another fingerprint took the key over")
                return
            }
            #expect(untouched.owner == first.owner)
            // The same request (same fingerprint) takes it over.
            let second = makeClaim("k1", now: t0 + lease, fingerprint: 1, path: "/v1/other")
            #expect(try await store.claim(second, likelyNew: true) == .claimed(tookOver: true))
            let record = try #require(try await store.record(for: first.key))
            #expect(record.owner == second.owner)
            #expect(record.fingerprint == second.fingerprint)
            #expect(record.createdAt == t0, "takeover keeps the row's createdAt")
            #expect(record.leaseExpiresAt == t0 + 2 * lease)
            #expect(record.path == "/v1/other")

            // The stale owner can neither complete nor release.
            #expect(try await store.complete(first.key, owner: first.owner, response: makeResponse(), expiresAt: t0 + ttl) == false)
            #expect(try await store.release(first.key, owner: first.owner) == false)
            #expect(try await store.record(for: first.key)?.state == .inFlight)
            // The new owner can.
            #expect(try await store.complete(first.key, owner: second.owner, response: makeResponse(), expiresAt: t0 + ttl))
        }
    }

    @Test("a live completed record is returned with its response", arguments: StoreKind.allCases, [true, false])
    func completed(kind: StoreKind, likelyNew: Bool) async throws {
        try await kind.withStore { (store) async throws in
            let first = makeClaim("k1")
            _ = try await store.claim(first, likelyNew: true)
            let response = makeResponse(status: 402)
            #expect(try await store.complete(first.key, owner: first.owner, response: response, expiresAt: t0 + 1_000))
            let retry = makeClaim("k1", now: t0 + 999)
            guard case .completed(let record) = try await store.claim(retry, likelyNew: likelyNew) else {
                Issue.record("expected .completed")
                return
            }
            #expect(record.state == .completed)
            #expect(record.owner == first.owner)
            #expect(record.expiresAt == t0 + 1_000)
            #expect(record.response == response)
        }
    }

    @Test("an expired completed record is replaced by a new claim", arguments: StoreKind.allCases, [true, false])
    func expiredCompleted(kind: StoreKind, likelyNew: Bool) async throws {
        try await kind.withStore { (store) async throws in
            let first = makeClaim("k1")
            _ = try await store.claim(first, likelyNew: true)
            _ = try await store.complete(first.key, owner: first.owner, response: makeResponse(), expiresAt: t0 + 1_000)
            let later = makeClaim("k1", now: t0 + 1_000, fingerprint: 9)
            #expect(try await store.claim(later, likelyNew: likelyNew) == .claimed(tookOver: false))
            let record = try #require(try await store.record(for: later.key))
            #expect(record.state == .inFlight)
            #expect(record.owner == later.owner)
            #expect(record.fingerprint == later.fingerprint)
            #expect(record.createdAt == t0 + 1_000)
            #expect(record.response == nil)
            // The first owner's token is dead.
            #expect(try await store.release(first.key, owner: first.owner) == false)
        }
    }

    @Test("scopes separate equal keys", arguments: StoreKind.allCases)
    func scopes(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            #expect(try await store.claim(makeClaim("k", scope: "a"), likelyNew: true) == .claimed(tookOver: false))
            #expect(try await store.claim(makeClaim("k", scope: "b"), likelyNew: true) == .claimed(tookOver: false))
            #expect(try await store.claim(makeClaim("k", scope: ""), likelyNew: false) == .claimed(tookOver: false))
        }
    }
}
