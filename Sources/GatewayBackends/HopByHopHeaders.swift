import HTTPTypes

/// Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded.
public enum HopByHopHeaders {
    /// Removes `Connection`, every field it names, the always-hop-by-hop fields (`Keep-Alive`, `TE`, `Trailer`,
    /// `Transfer-Encoding`, `Upgrade`, `Proxy-Connection`) and every `Proxy-*` field. On the hot path, so one pass
    /// over the fields decides whether anything has to go at all.
    public static func remove(from fields: inout HTTPFields) {
        var doomed: [HTTPField.Name] = []
        for field in fields {
            let name = field.name.canonicalName
            guard isHopByHop(name) else { continue }
            if !doomed.contains(field.name) { doomed.append(field.name) }
            if name == "connection" {
                for token in field.value.split(separator: ",") {
                    if let named = HTTPField.Name(String(token.trimmingSpaces())), !doomed.contains(named) {
                        doomed.append(named)
                    }
                }
            }
        }
        // Usually just `Connection: keep-alive`: removing by name edits in place instead of rebuilding the fields.
        for name in doomed { fields[name] = nil }
    }

    /// True for the fixed hop-by-hop names and `Proxy-*` (canonical, lower-case names).
    public static func isHopByHop(_ canonicalName: String) -> Bool {
        // Length and first byte rule out almost every name before any string comparison (hot path).
        let utf8 = canonicalName.utf8
        switch (utf8.count, utf8.first) {
        case (10, UInt8(ascii: "c")): return canonicalName == "connection"
        case (10, UInt8(ascii: "k")): return canonicalName == "keep-alive"
        case (2, UInt8(ascii: "t")): return canonicalName == "te"
        case (7, UInt8(ascii: "t")): return canonicalName == "trailer"
        case (17, UInt8(ascii: "t")): return canonicalName == "transfer-encoding"
        case (7, UInt8(ascii: "u")): return canonicalName == "upgrade"
        case (6..., UInt8(ascii: "p")): return canonicalName.hasPrefix("proxy-")
        default: return false
        }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return slice
    }
}
