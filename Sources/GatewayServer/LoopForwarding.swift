import GatewayHTTP
import GatewaySockets

/// A byte path (``ByteForwarding``) that can also forward without a task: the server's loop-driven connections
/// (``ServerConnection``) call ``forward(_:body:connection:on:completion:)`` from their loop's queue and go on when
/// `completion` runs, instead of suspending a task for the exchange.
public protocol LoopForwarding: ByteForwarding {
    /// Forwards a request ``ByteForwarding/accepts(_:)`` took, as ``ByteForwarding/forward(_:body:connection:)``
    /// does. `completion` runs exactly once with the response: on `loop`'s queue (or in a task on `loop`), possibly
    /// before this returns.
    func forward(
        _ head: RawRequestHead, body: [UInt8], connection: ConnectionInfo, on loop: IOLoop,
        completion: @escaping @Sendable (consuming GatewayResponse) -> Void)
}
