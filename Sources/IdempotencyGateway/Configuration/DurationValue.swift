// Parsing and printing of configuration durations such as `500ms`, `10s`, `3m`, `24h` and `1h30m`.

/// Parses and formats the duration syntax used by every `*-timeout`, `*-ttl`, `lease` and `*-interval` key.
///
/// A duration is one or more `<integer><unit>` pairs with the units `ms`, `s`, `m` and `h`, largest unit
/// first, each unit at most once (`1h30m`, `2m500ms`). A lone `0` is accepted and means zero.
public enum DurationValue {
    /// The phrase used in error messages.
    public static let expectation = "expected a duration like 500ms, 10s, 3m, 24h"

    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// Parses `text` into a `Duration`, or returns `nil` if it is not a valid duration.
    public static func parse(_ text: String) -> Duration? {
        let input = text.trimmingWhitespace()
        if input == "0" { return .zero }
        var scalars = Substring(input)
        guard !scalars.isEmpty else { return nil }
        var total: Int64 = 0
        var lastRank = -1
        while !scalars.isEmpty {
            let digits = scalars.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 12, let number = Int64(digits) else { return nil }
            scalars = scalars.dropFirst(digits.count)
            let letters = scalars.prefix { $0.isASCII && $0.isLetter }
            scalars = scalars.dropFirst(letters.count)
            guard let rank = units.firstIndex(where: { $0.suffix == String(letters) }), rank > lastRank else {
                return nil
            }
            lastRank = rank
            let (product, overflowA) = number.multipliedReportingOverflow(by: units[rank].milliseconds)
            let (sum, overflowB) = total.addingReportingOverflow(product)
            guard !overflowA, !overflowB else { return nil }
            total = sum
        }
        return .milliseconds(total)
    }

    /// Formats `duration` in the shortest form `parse` reads back exactly (`90m` → `1h30m`).
    ///
    /// Sub-millisecond precision is truncated; configuration values never carry it.
    public static func format(_ duration: Duration) -> String {
        var remaining = milliseconds(duration)
        if remaining <= 0 { return "0" }
        var text = ""
        for (suffix, size) in units where remaining >= size {
            text += "\(remaining / size)\(suffix)"
            remaining %= size
        }
        return text
    }

    /// Whole milliseconds in `duration`.
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
