// TEMPORARY STUB written by helper h4 so the `keys` subcommands compile.
// The lead replaces this file with the real implementation over the SQLite key store.

/// TEMPORARY: the error the stub throws.
public struct KeyAdministrationNotWired: Error, CustomStringConvertible {
    /// Explains the stub.
    public var description: String { "key administration is not wired yet (TEMPORARY stub)" }
}

/// TEMPORARY: offline administration of the key store used by `idempotency-gateway keys …`.
public enum KeyAdministration {
    /// TEMPORARY: the record for `key` in `scope` as JSON.
    public static func show(key: String, scope: String, storePath: String) async throws -> String {
        throw KeyAdministrationNotWired()
    }

    /// TEMPORARY: deletes `keys` in `scope`; the result maps each key to whether it existed.
    public static func delete(keys: [String], scope: String, storePath: String) async throws -> [String: Bool] {
        throw KeyAdministrationNotWired()
    }

    /// TEMPORARY: store statistics as text.
    public static func stats(storePath: String) async throws -> String {
        throw KeyAdministrationNotWired()
    }
}
