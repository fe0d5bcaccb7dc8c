import Foundation
import GatewayHTTP
import GatewaySockets
import GatewayStore

// Foundation's `localizedDescription` of a Swift error that is not a `LocalizedError` is "The operation could not be
// completed. (… error 1.)": an application embedding the gateway that logs `error.localizedDescription` would lose
// what failed. The gateway's public errors say it with their `description`.

extension SocketError: LocalizedError {
    public var errorDescription: String? { description }
}

extension KeyStoreError: LocalizedError {
    public var errorDescription: String? { description }
}

extension ConfigurationError: LocalizedError {
    public var errorDescription: String? { description }
}

extension UpstreamError: LocalizedError {
    public var errorDescription: String? { description }
}

extension HTTPParseError: LocalizedError {
    public var errorDescription: String? { description }
}
