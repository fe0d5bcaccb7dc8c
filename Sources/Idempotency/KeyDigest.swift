import GatewayStore
import Logging

/// Keys appear in logs only as a short hash, so logs never carry a client's key (or anything derived from a
/// credential) in clear. The access log and the engine's own messages hash the same thing (the key's value), so
/// their lines for one key correlate.
public enum KeyDigest {
    /// `k:` and 16 hex digits of FNV-1a 64 over the key's UTF-8: not for security, only to correlate log lines.
    public static func short(_ key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "k:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension RecordKey {
    /// The key as log metadata: its digest, never the key (nor the scope) itself.
    var logged: Logger.MetadataValue { .string(KeyDigest.short(key)) }
}
