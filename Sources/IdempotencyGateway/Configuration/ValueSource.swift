// Typed, validated reads of raw configuration strings, collecting problems instead of stopping at the first.
import Configuration

/// Reads raw values through the `ConfigReader` (flags > environment > file) and converts them, recording a
/// ``ConfigurationProblem`` (key, value, source) for every value that does not convert.
struct ValueSource {
    let reader: ConfigReader
    let overrides: CommandLineOverrides
    /// `GATEWAY_*` variables with the prefix removed.
    let environment: [String: String]
    let file: ConfigurationFile?
    private(set) var problems: [ConfigurationProblem] = []

    init(reader: ConfigReader, overrides: CommandLineOverrides, environment: [String: String], file: ConfigurationFile?) {
        self.reader = reader
        self.overrides = overrides
        self.environment = environment
        self.file = file
    }

    /// Where `key`'s effective value comes from, mirroring the reader's precedence; `nil` means the default.
    func source(of key: String) -> String? {
        if overrides.values[key] != nil {
            return overrides.flags[key].map { "flag \($0)" } ?? "the command line"
        }
        let variable = ConfigurationKeys.environmentVariable(for: key)
        if environment[String(variable.dropFirst(ConfigurationKeys.environmentPrefix.count))] != nil {
            return "environment variable \(variable)"
        }
        if let file, file.values[key] != nil { return "config file \(file.path)" }
        return nil
    }

    /// Records a problem; the value of `admin.token` is never recorded.
    mutating func report(_ key: String, _ value: String?, _ reason: String, source: String? = nil) {
        problems.append(ConfigurationProblem(
            key: key,
            value: key.hasSuffix("token") ? nil : value,
            reason: reason,
            source: source ?? self.source(of: key)
        ))
    }

    /// The raw string for `key`, or `nil` when it is not set anywhere (or is a list where a value belongs).
    mutating func string(_ key: String) -> String? {
        guard source(of: key) != nil else { return nil }
        do {
            return try reader.requiredString(forKey: ConfigKey(key), isSecret: key == "admin.token").trimmingWhitespace()
        } catch {
            report(key, file?.values[key], "expected a single value, not a list")
            return nil
        }
    }

    /// The raw list for `key`: a YAML sequence, or a comma-separated string (environment, flags, file).
    mutating func list(_ key: String) -> [String]? {
        guard source(of: key) != nil else { return nil }
        let items: [String]
        if let array = try? reader.requiredStringArray(forKey: ConfigKey(key)) {
            items = array
        } else if let text = try? reader.requiredString(forKey: ConfigKey(key)) {
            items = text.split(separator: ",").map(String.init)
        } else {
            report(key, file?.values[key], "expected a list like [A, B]")
            return nil
        }
        return items.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    /// Converts `raw` with `parse`, reporting `reason` when it returns `nil`.
    mutating func check<T>(_ key: String, _ raw: String, _ reason: String, _ parse: (String) -> T?) -> T? {
        if let value = parse(raw) { return value }
        report(key, raw, reason)
        return nil
    }

    /// Reads `key` and converts it with `parse`.
    mutating func parse<T>(_ key: String, _ reason: String, _ parse: (String) -> T?) -> T? {
        guard let raw = string(key) else { return nil }
        return check(key, raw, reason, parse)
    }

    mutating func duration(_ key: String, positive: Bool) -> Duration? {
        guard let raw = string(key) else { return nil }
        guard let duration = DurationValue.parse(raw) else {
            report(key, raw, DurationValue.expectation)
            return nil
        }
        if positive && duration <= .zero {
            report(key, raw, "must be greater than zero")
            return nil
        }
        return duration
    }

    mutating func size(_ key: String, minimum: Int) -> Int? {
        guard let raw = string(key) else { return nil }
        guard let bytes = ByteSizeValue.parse(raw) else {
            report(key, raw, ByteSizeValue.expectation)
            return nil
        }
        guard bytes >= minimum else {
            report(key, raw, "must be at least \(minimum)")
            return nil
        }
        return bytes
    }

    mutating func count(_ key: String, minimum: Int) -> Int? {
        guard let raw = string(key) else { return nil }
        guard raw.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(raw) else {
            report(key, raw, "expected a whole number")
            return nil
        }
        guard value >= minimum else {
            report(key, raw, "must be at least \(minimum)")
            return nil
        }
        return value
    }

    mutating func bool(_ key: String) -> Bool? {
        parse(key, "expected true or false", Self.parseBool)
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, _ type: Choice.Type) -> Choice?
    where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        return parse(key, "expected one of \(names)") { Choice(rawValue: $0.lowercased()) }
    }

    /// A list of HTTP methods, upper-cased; each must be an RFC 9110 §5.6.2 token.
    mutating func methods(_ key: String) -> [String]? {
        guard let items = list(key) else { return nil }
        return Self.checkTokens(items, key: key, what: "an HTTP method like POST", into: &self).map { $0.map { $0.uppercased() } }
    }

    /// A list of header field names (RFC 9110 §5.1: a token).
    mutating func headerNames(_ key: String) -> [String]? {
        guard let items = list(key) else { return nil }
        return Self.checkTokens(items, key: key, what: "a header name like Authorization", into: &self)
    }

    private static func checkTokens(_ items: [String], key: String, what: String, into source: inout ValueSource) -> [String]? {
        for item in items where !isToken(item) {
            source.report(key, item, "expected \(what)")
            return nil
        }
        return items
    }

    /// RFC 9110 §5.6.2: `token = 1*tchar`.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII
                && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar))
        }
    }

    /// `true`/`false`, also `yes`/`no`, `on`/`off`, `1`/`0`.
    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": true
        case "false", "no", "off", "0": false
        default: nil
        }
    }
}
