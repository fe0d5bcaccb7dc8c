import HTTPTypes

/// Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded.
public enum HopByHopHeaders {
    /// Removes `Connection`, every field it names, the always-hop-by-hop fields (`Keep-Alive`, `TE`, `Trailer`,
    /// `Transfer-Encoding`, `Upgrade`, `Proxy-Connection`) and every `Proxy-*` field. On the hot path, so one pass
    /// over the fields decides whether anything has to go at all.
    public static func remove(from fields: inout HTTPFields) {
        var found = false
        var named: Set<String> = []
        for field in fields {
            let name = field.name.canonicalName
            guard isHopByHop(name) else { continue }
            found = true
            if name == "connection" {
                for token in field.value.split(separator: ",") {
                    named.insert(token.trimmingSpaces().lowercased())
                }
            }
        }
        guard found else { return }
        fields = HTTPFields(fields.filter { field in
            let name = field.name.canonicalName
            return !isHopByHop(name) && !named.contains(name)
        })
    }

    /// True for the fixed hop-by-hop names and `Proxy-*` (canonical, lower-case names).
    public static func isHopByHop(_ canonicalName: String) -> Bool {
        switch canonicalName {
        case "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade": true
        default: canonicalName.utf8.first == UInt8(ascii: "p") && canonicalName.hasPrefix("proxy-")
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
