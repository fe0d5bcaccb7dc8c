import HTTPTypes

/// Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded.
public enum HopByHopHeaders {
    /// Always hop-by-hop, whatever `Connection` says.
    static let fixed: Set<String> = [
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection",
    ]

    /// Removes `Connection`, every field it names, the fixed list above and every `Proxy-*` field.
    public static func remove(from fields: inout HTTPFields) {
        var named = Set<String>()
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") {
                named.insert(token.trimmingSpaces().lowercased())
            }
        }
        guard !named.isEmpty || fields.contains(where: { isHopByHop($0.name.canonicalName) }) else { return }
        fields = HTTPFields(fields.filter { field in
            let name = field.name.canonicalName
            return !isHopByHop(name) && !named.contains(name)
        })
    }

    /// True for the fixed hop-by-hop names and `Proxy-*` (canonical, lower-case names).
    public static func isHopByHop(_ canonicalName: String) -> Bool {
        fixed.contains(canonicalName) || canonicalName.hasPrefix("proxy-")
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
