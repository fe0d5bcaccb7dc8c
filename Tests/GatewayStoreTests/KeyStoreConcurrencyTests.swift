import Testing

@testable import GatewayStore

/// Many callers at once: group commit must keep claims atomic and lose none.
@Suite("KeyStore concurrency")
struct KeyStoreConcurrencyTests {
    @Test("200 concurrent claims of one key: exactly one wins", arguments: StoreKind.allCases)
    func sameKey(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let outcomes = try await withThrowingTaskGroup(of: ClaimOutcome.self) { group in
                for index in 0..<200 {
                    group.addTask { try await store.claim(makeClaim("hot", fingerprint: UInt8(index % 256)), likelyNew: index % 2 == 0) }
                }
                var outcomes: [ClaimOutcome] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            let winners = outcomes.filter { $0 == .claimed(tookOver: false) }
            #expect(winners.count == 1)
            let losers = outcomes.compactMap { outcome -> IdempotencyRecord? in
                if case .inFlight(let record) = outcome { record } else { nil }
            }
            #expect(losers.count == 199)
            // Every loser saw the same winner.
            let record = try #require(try await store.record(for: RecordKey(scope: "tenant-a", key: "hot")))
            #expect(losers.allSatisfy { $0.owner == record.owner })
        }
    }

    @Test("1,000 concurrent claims of distinct keys all succeed", arguments: StoreKind.allCases)
    func distinctKeys(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let outcomes = try await withThrowingTaskGroup(of: ClaimOutcome.self) { group in
                for index in 0..<1_000 {
                    group.addTask { try await store.claim(makeClaim("key-\(index)"), likelyNew: index % 3 != 0) }
                }
                var outcomes: [ClaimOutcome] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(outcomes.count == 1_000)
            #expect(outcomes.allSatisfy { $0 == .claimed(tookOver: false) })
            #expect(try await store.statistics(now: t0).inFlight == 1_000)
            if let sqlite = store as? SQLiteKeyStore {
                // Group commit: the claims shared transactions.
                let (batches, operations) = sqlite.writeBatchCounts
                #expect(operations == 1_000)
                #expect(batches < operations)
            }
        }
    }

    @Test("concurrent claim, complete and read on many keys stay consistent", arguments: StoreKind.allCases)
    func mixed(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let claim = makeClaim("mixed-\(index)")
                        #expect(try await store.claim(claim, likelyNew: true) == .claimed(tookOver: false))
                        #expect(try await store.record(for: claim.key)?.owner == claim.owner)
                        #expect(try await store.complete(claim.key, owner: claim.owner, response: makeResponse(), expiresAt: t0 + ttl))
                        guard case .completed = try await store.claim(makeClaim("mixed-\(index)"), likelyNew: false) else {
                            Issue.record("expected .completed")
                            return
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.statistics(now: t0).completed == 300)
        }
    }
}
