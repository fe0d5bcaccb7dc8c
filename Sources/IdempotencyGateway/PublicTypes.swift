import GatewaySockets
import GatewayStore
import Idempotency

// The types of the lower modules that the library's public API hands out (`Gateway.engine`, its record look-ups,
// the errors `Gateway.start` throws), named here so that `import IdempotencyGateway` is all a user writes.

/// The idempotency engine (``Gateway/engine``): Bloom counters, the hot cache, record look-ups.
public typealias IdempotencyEngine = Idempotency.IdempotencyEngine
/// A record's identity: the scope (a hash of the scope headers) and the key.
public typealias RecordKey = GatewayStore.RecordKey
/// A stored record, as ``IdempotencyEngine/record(for:)`` returns it.
public typealias IdempotencyRecord = GatewayStore.IdempotencyRecord
/// A failure of the key store (thrown by ``Gateway/start(configuration:backend:logger:)`` when the store cannot
/// be opened).
public typealias KeyStoreError = GatewayStore.KeyStoreError
/// A failure of the sockets layer (thrown by ``Gateway/start(configuration:backend:logger:)`` when a listener
/// cannot bind).
public typealias SocketError = GatewaySockets.SocketError
