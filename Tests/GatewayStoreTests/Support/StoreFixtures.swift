import Foundation
import Testing

@testable import GatewayStore

/// The stores every behavioural test runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqliteFile
    case sqliteMemory
    case inMemory

    var testDescription: String { rawValue }

    /// Opens a fresh store of this kind, runs `body`, closes the store and removes its files.
    func withStore(
        options: SQLiteKeyStore.Options = SQLiteKeyStore.Options(), _ body: (any KeyStore) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { directory in
            let store: any KeyStore =
                switch self {
                case .sqliteFile:
                    try SQLiteKeyStore(path: directory.appendingPathComponent("store.sqlite").path, options: options)
                case .sqliteMemory: try SQLiteKeyStore(path: ":memory:", options: options)
                case .inMemory: InMemoryKeyStore()
                }
            do {
                try await body(store)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
    }
}

/// A fixed "now" for the tests (ms since 1970).
let t0: Timestamp = 1_700_000_000_000
let lease: Timestamp = 30_000
let ttl: Timestamp = 86_400_000

func makeClaim(
    _ key: String, scope: String = "tenant-a", owner: OwnerToken = .random(), now: Timestamp = t0,
    fingerprint: UInt8 = 1, method: String = "POST", path: String = "/v1/orders"
) -> Claim {
    Claim(
        key: RecordKey(scope: scope, key: key), fingerprint: [UInt8](repeating: fingerprint, count: 32), owner: owner,
        now: now, leaseExpiresAt: now + lease, expiresAt: now + ttl, method: method, path: path)
}

func makeResponse(status: Int = 201, body: [UInt8] = Array(#"{"id":42}"#.utf8)) -> StoredResponse {
    StoredResponse(
        status: status,
        fields: [
            .init(name: "Content-Type", value: "application/json"),
            .init(name: "Set-Cookie", value: "a=1"),
            .init(name: "Set-Cookie", value: "b=2"),
        ],
        body: body)
}

/// A body that deflate shrinks a lot.
func compressibleBody(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(ascii: "a") + UInt8($0 % 7) }
}

/// A body that deflate cannot shrink.
func randomBody(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}
