import Foundation
import IdempotencyGateway
import Testing

@Suite("Errors describe themselves through Foundation too")
struct ErrorDescriptionTests {
    /// An embedding application that logs `error.localizedDescription` sees what failed, not "error 1".
    @Test func localizedDescriptionIsTheDescription() {
        let errors: [any Error] = [
            SocketError.system(operation: "bind to 127.0.0.1:80", errno: 98),
            SocketError.timeout,
            KeyStoreError.database(code: 5, message: "database is locked"),
            KeyStoreError.unavailable("cannot create the directory /x for /x/s.sqlite: Permission denied"),
            HTTPParseError(status: 400, reason: "invalid character in field value"),
            UpstreamError.unreachable("connection refused"),
            ConfigurationError(problems: [.init(key: "idempotency.lease", value: "0s", reason: "must be positive")]),
        ]
        for error in errors {
            #expect(error.localizedDescription == String(describing: error))
            #expect(!error.localizedDescription.contains("The operation could not be completed"))
        }
    }
}
