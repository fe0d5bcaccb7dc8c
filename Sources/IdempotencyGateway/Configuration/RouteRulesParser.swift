// Reading `idempotency.routes`, a list of objects, straight from the Yams document (swift-configuration's
// YAML provider only supports scalars and lists of scalars).
import Yams

/// Converts the `idempotency.routes` YAML node into ``GatewayConfiguration/RouteRule`` values.
enum RouteRulesParser {
    /// Parses `node`, reporting problems (keyed `idempotency.routes[i].field`) into `values`.
    static func parse(_ node: Node, into values: inout ValueSource) -> [GatewayConfiguration.RouteRule] {
        let key = ConfigurationKeys.routes
        let source = values.file.map { "config file \($0.path)" }
        guard let entries = node.sequence else {
            values.report(key, node.scalar?.string, "expected a list of route objects with path-prefix", source: source)
            return []
        }
        var rules: [GatewayConfiguration.RouteRule] = []
        for (index, entry) in entries.enumerated() {
            let entryKey = "\(key)[\(index)]"
            guard let mapping = entry.mapping else {
                values.report(entryKey, entry.scalar?.string, "expected an object with path-prefix", source: source)
                continue
            }
            var fields: [String: Node] = [:]
            for (fieldNode, value) in mapping {
                let field = fieldNode.scalar?.string ?? "<non-string key>"
                if ConfigurationKeys.routeFields.contains(field) {
                    if value.null == nil { fields[field] = value }
                } else {
                    let hint = ConfigurationKeys.suggestion(for: field, among: ConfigurationKeys.routeFields)
                        .map { " (did you mean \($0)?)" } ?? ""
                    values.report("\(entryKey).\(field)", nil, "unknown route field\(hint)", source: source)
                }
            }
            func scalar(_ field: String) -> String? {
                guard let node = fields[field] else { return nil }
                guard let text = node.scalar?.string else {
                    values.report("\(entryKey).\(field)", nil, "expected a single value", source: source)
                    return nil
                }
                return text.trimmingWhitespace()
            }
            func duration(_ field: String) -> Duration? {
                guard let raw = scalar(field) else { return nil }
                guard let value = DurationValue.parse(raw), value > .zero else {
                    values.report("\(entryKey).\(field)", raw, DurationValue.expectation, source: source)
                    return nil
                }
                return value
            }
            guard let prefix = scalar("path-prefix"), prefix.hasPrefix("/") else {
                values.report(
                    "\(entryKey).path-prefix", fields["path-prefix"]?.scalar?.string,
                    "required, and must start with /", source: source)
                continue
            }
            var rule = GatewayConfiguration.RouteRule(pathPrefix: prefix)
            if let methodsNode = fields["methods"] {
                let items = methodsNode.sequence.map { $0.map { $0.scalar?.string ?? "" } }
                    ?? (methodsNode.scalar?.string ?? "").split(separator: ",").map(String.init)
                let methods = items.map { $0.trimmingWhitespace() }
                if let bad = methods.first(where: { !ValueSource.isToken($0) }) ?? (methods.isEmpty ? "" : nil) {
                    values.report("\(entryKey).methods", bad, "expected HTTP methods like [POST, PUT]", source: source)
                } else {
                    rule.methods = methods.map { $0.uppercased() }
                }
            }
            if let raw = scalar("require-key") {
                if let flag = ValueSource.parseBool(raw) {
                    rule.requireKey = flag
                } else {
                    values.report("\(entryKey).require-key", raw, "expected true or false", source: source)
                }
            }
            rule.keyTTL = duration("key-ttl")
            rule.lease = duration("lease")
            rules.append(rule)
        }
        return rules
    }
}
