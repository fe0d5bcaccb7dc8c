import GatewayHTTP
import GatewaySockets
import Synchronization

/// Idle keep-alive connections to one upstream, most recently used first, each with the response decoder it last
/// used (idle between responses, its buffers kept: the next exchange allocates none), in the
/// ``UpstreamConnection`` that a loop-driven exchange on it reuses.
final class ConnectionPool: Sendable {
    private struct Idle {
        var connection: UpstreamConnection
        var since: LoopTime
    }

    private let idle = Mutex<[Idle]>([])
    /// A connection idle for less than this is checked from readiness events only, without a `MSG_PEEK`.
    static let trustEventsFor: Duration = .milliseconds(500)
    private static let trustEventsForNanoseconds = LoopTime.nanoseconds(of: trustEventsFor)
    private let maxIdle: Int
    /// The idle timeout, in nanoseconds (compared as integers on every take).
    private let maxAge: Int64

    init(maxIdle: Int, maxAge: Duration) {
        self.maxIdle = maxIdle
        self.maxAge = LoopTime.nanoseconds(of: maxAge)
    }

    /// ``connection(now:)``'s socket with its decoder moved out, or nil (for an `async` exchange).
    func take(now: LoopTime = .now) -> (socket: AsyncSocket, decoder: HTTPResponseDecoder)? {
        guard let connection = connection(now: now) else { return nil }
        return (connection.socket, connection.takeDecoder())
    }

    /// A pooled connection that still looks alive, or nil. A connection the upstream closed while it sat in the
    /// pool peeks EOF (or stray bytes) without blocking, and is discarded here, before anything is sent on it.
    /// - Parameter now: the time, when the caller has just read the clock.
    func connection(now: LoopTime) -> UpstreamConnection? {
        while true {
            guard let entry = idle.withLock({ $0.popLast() }) else { return nil }
            let age = now.nanoseconds &- entry.since.nanoseconds
            // Recently used: the loop's readiness events would have shown a close or stray input. Idle longer
            // (where an upstream's keep-alive timeout may close it): ask the kernel too.
            if age <= maxAge, entry.connection.socket.probeIdle(trustEvents: age < Self.trustEventsForNanoseconds) {
                return entry.connection
            }
            entry.connection.socket.close()
        }
    }

    /// Returns a connection after a complete `async` exchange, with its decoder (between responses, nothing
    /// buffered).
    func put(_ socket: AsyncSocket, decoder: consuming HTTPResponseDecoder, now: LoopTime = .now) {
        put(UpstreamConnection(socket: socket, decoder: decoder), now: now)
    }

    /// Returns a connection after a complete exchange (its decoder inside, nothing buffered).
    /// - Parameter now: the time, when the caller has it at hand (its loop's ``IOLoop/cycleTime``).
    func put(_ connection: UpstreamConnection, now: LoopTime) {
        var evicted: AsyncSocket?
        idle.withLock { idle in
            idle.append(Idle(connection: connection, since: now))
            if idle.count > maxIdle { evicted = idle.removeFirst().connection.socket }
        }
        evicted?.close()
    }

    /// Closes the idle connections the upstream has closed (the event loop saw its FIN, or stray input), and those
    /// older than the idle timeout, so that none sits in `CLOSE-WAIT` holding a descriptor until traffic
    /// comes back. No system call under the lock: a connection's events are read from its state
    /// (``AsyncSocket/isQuiet``).
    func prune(now: LoopTime = .now) {
        let stale: [AsyncSocket] = idle.withLock { idle in
            var stale: [AsyncSocket] = []
            idle.removeAll { entry in
                let dead = now.nanoseconds &- entry.since.nanoseconds > maxAge || !entry.connection.socket.isQuiet
                if dead { stale.append(entry.connection.socket) }
                return dead
            }
            return stale
        }
        for socket in stale { socket.close() }
    }

    /// Closes every idle connection.
    func closeAll() {
        let all = idle.withLock { idle in
            defer { idle.removeAll() }
            return idle
        }
        for entry in all { entry.connection.socket.close() }
    }

    var idleCount: Int { idle.withLock { $0.count } }
}
