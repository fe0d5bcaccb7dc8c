// Parsing and printing of byte sizes such as `1024`, `64KiB`, `8MiB` and `1MB`.

/// Parses and formats the size syntax used by the `*-bytes` and `*-threshold` keys.
///
/// A size is a non-negative integer, optionally followed by a unit: `B`, the binary units `KiB`, `MiB`,
/// `GiB` (powers of 1024) or the decimal units `KB`, `MB`, `GB` (powers of 1000). Units are case-insensitive.
public enum ByteSizeValue {
    /// The phrase used in error messages.
    public static let expectation = "expected a size like 1024, 64KiB, 8MiB or 1MB"

    private static let units: [String: Int] = [
        "": 1, "b": 1,
        "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
        "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000,
    ]

    /// Parses `text` into a number of bytes, or returns `nil` if it is not a valid size.
    public static func parse(_ text: String) -> Int? {
        let input = Substring(text.trimmingWhitespace())
        let digits = input.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 18, let number = Int(digits) else { return nil }
        let unit = input.dropFirst(digits.count).drop(while: { $0 == " " }).lowercased()
        guard let multiplier = units[unit] else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// Formats `bytes` with the largest binary unit that divides it exactly (`8388608` → `8MiB`).
    public static func format(_ bytes: Int) -> String {
        guard bytes > 0 else { return "\(bytes)" }
        for (suffix, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes % size == 0 {
            return "\(bytes / size)\(suffix)"
        }
        return "\(bytes)"
    }
}
