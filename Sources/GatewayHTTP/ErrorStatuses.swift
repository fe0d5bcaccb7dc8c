/// Which status each kind of failure maps to: requests get precise 4xx/5xx codes, responses from the
/// upstream always become `502 Bad Gateway`.
struct ErrorStatuses: Sendable {
    var badSyntax: Int
    var targetTooLong: Int
    var headerTooLarge: Int
    var bodyTooLarge: Int
    var notImplemented: Int
    var unsupportedVersion: Int

    static let request = ErrorStatuses(
        badSyntax: 400, targetTooLong: 414, headerTooLarge: 431,
        bodyTooLarge: 413, notImplemented: 501, unsupportedVersion: 505
    )
    static let response = ErrorStatuses(
        badSyntax: 502, targetTooLong: 502, headerTooLarge: 502,
        bodyTooLarge: 502, notImplemented: 502, unsupportedVersion: 502
    )

    func bad(_ reason: String) -> HTTPParseError { HTTPParseError(status: badSyntax, reason: reason) }
}
