import GatewayStore

/// Request ids: 16 hex digits, unique within the process and unpredictable across processes, without a
/// `getrandom(2)` call per request (``UniqueHex``).
enum RequestIDGenerator {
    private static let generator = UniqueHex()

    static func next() -> String {
        generator.next(words: 1)
    }
}
