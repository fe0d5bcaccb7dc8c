import HTTPTypes

/// Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded.
public enum HopByHopHeaders {
    /// Removes `Connection`, every field it names, the always-hop-by-hop fields (`Keep-Alive`, `TE`, `Trailer`,
    /// `Transfer-Encoding`, `Upgrade`, `Proxy-Connection`) and every `Proxy-*` field. On the hot path, so one pass
    /// over the fields decides whether anything has to go at all.
    public static func remove(from fields: inout HTTPFields) {
        // Usually there is nothing to remove, or just `Connection: keep-alive` / `close`: found in one pass.
        var connectionIndex: Int?
        var simple = true
        for index in fields.indices {
            let name = fields[index].name.canonicalName
            guard isHopByHop(name) else { continue }
            guard connectionIndex == nil, name == "connection", namesOnlyOptions(fields[index].value) else {
                simple = false
                break
            }
            connectionIndex = index
        }
        if simple {
            // By name, not `remove(at:)`: that one is RangeReplaceableCollection's default, which reaches
            // swift-http-types' generic `replaceSubrange` unspecialised (type metadata looked up on every call).
            // The name is that one field's: a second `Connection` field would have made this not simple.
            if let connectionIndex { fields[fields[connectionIndex].name] = nil }
            return
        }
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
        for name in doomed { fields[name] = nil }
    }

    /// True when a `Connection` value is just `keep-alive` or `close` (RFC 9112 §9.3 connection options, not names
    /// of other fields).
    private static func namesOnlyOptions(_ value: String) -> Bool {
        let utf8 = value.utf8
        switch utf8.count {
        case 5: return utf8.elementsEqual("close".utf8, by: { $0 | 0x20 == $1 })
        case 10: return utf8.elementsEqual("keep-alive".utf8, by: { $0 | 0x20 == $1 })
        default: return false
        }
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
    /// Without leading and trailing spaces and tabs (RFC 9110 §5.6.1 list OWS).
    package func trimmingSpaces() -> Substring {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return slice
    }
}
