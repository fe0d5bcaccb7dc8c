import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes

/// Starts an ``HTTPServer`` on 127.0.0.1:0 with `handler`, runs `body`, then shuts the server down.
func withServer<R>(
    _ handler: any HTTPHandler,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (HTTPServer, UInt16) async throws -> R
) async throws -> R {
    var configuration = ServerConfiguration(address: try SocketAddress(ip: "127.0.0.1", port: 0))
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, handler: handler)
    try server.start()
    let port = server.address!.port
    do {
        let result = try await body(server, port)
        await server.shutdown(gracePeriod: .seconds(2))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(2))
        throw error
    }
}

/// A handler that answers `200 hello <path>` and echoes the body.
let helloHandler = ClosureHandler { request in
    var fields = HTTPFields()
    fields[.contentType] = "text/plain"
    return GatewayResponse(status: .ok, headerFields: fields, body: Array("hello \(request.head.path ?? "")".utf8) + request.body)
}
