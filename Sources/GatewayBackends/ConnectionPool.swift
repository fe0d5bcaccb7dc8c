import GatewayHTTP
import GatewaySockets
import Synchronization

/// Idle keep-alive connections to one upstream, most recently used first, each with the response decoder it last
/// used (idle between responses, its buffers kept: the next exchange allocates none).
final class ConnectionPool: Sendable {
    private struct Idle {
        var socket: AsyncSocket
        var decoder: HTTPResponseDecoder
        var since: ContinuousClock.Instant

        /// The socket and the decoder, moved out (a decoder holds several buffers).
        consuming func parts() -> (socket: AsyncSocket, decoder: HTTPResponseDecoder) { (socket, decoder) }
    }

    private let idle = Mutex<[Idle]>([])
    /// A connection idle for less than this is checked from readiness events only, without a `MSG_PEEK`.
    static let trustEventsFor: Duration = .milliseconds(500)
    private let maxIdle: Int
    private let maxAge: Duration

    init(maxIdle: Int, maxAge: Duration) {
        self.maxIdle = maxIdle
        self.maxAge = maxAge
    }

    /// A pooled connection that still looks alive, or nil. A connection the upstream closed while it sat in the
    /// pool peeks EOF (or stray bytes) without blocking, and is discarded here, before anything is sent on it.
    /// - Parameter now: the time, when the caller has just read the clock.
    func take(now: ContinuousClock.Instant = .now) -> (socket: AsyncSocket, decoder: HTTPResponseDecoder)? {
        while true {
            // Taken apart under the lock and moved out (a returned `Idle` was copied and destroyed by its value
            // witnesses, a retain and a release for each of its references).
            var socket: AsyncSocket?
            var decoder: HTTPResponseDecoder?
            var since = now
            idle.withLock { idle in
                guard let last = idle.popLast() else { return }
                since = last.since
                (socket, decoder) = last.parts()
            }
            guard let socket else { return nil }
            let age = now - since
            if age > maxAge {
                socket.close()
                continue
            }
            // Recently used: the loop's readiness events would have shown a close or stray input. Idle longer
            // (where an upstream's keep-alive timeout may close it): ask the kernel too.
            if socket.probeIdle(trustEvents: age < Self.trustEventsFor) {
                return (socket, decoder.take()!)
            }
            socket.close()
        }
    }

    /// Returns a connection after a complete exchange, with its decoder (between responses, nothing buffered).
    /// - Parameter now: the time, when the caller has it at hand (its loop's ``IOLoop/cycleTime``).
    func put(_ socket: AsyncSocket, decoder: consuming HTTPResponseDecoder, now: ContinuousClock.Instant = .now) {
        // Built outside the lock and moved in (taken out of the optional), not copied.
        var entry: Idle? = Idle(socket: socket, decoder: decoder, since: now)
        var evicted: AsyncSocket?
        idle.withLock { idle in
            idle.append(entry.take()!)
            if idle.count > maxIdle { evicted = idle.removeFirst().parts().socket }
        }
        evicted?.close()
    }

    /// Closes the idle connections the upstream has closed (the event loop saw its FIN, or stray input), and those
    /// older than the idle timeout, so that none sits in `CLOSE-WAIT` holding a descriptor until traffic
    /// comes back. No system call under the lock: a connection's events are read from its state
    /// (``AsyncSocket/isQuiet``).
    func prune(now: ContinuousClock.Instant = .now) {
        let stale: [AsyncSocket] = idle.withLock { idle in
            var stale: [AsyncSocket] = []
            idle.removeAll { entry in
                let dead = now - entry.since > maxAge || !entry.socket.isQuiet
                if dead { stale.append(entry.socket) }
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
        for entry in all { entry.socket.close() }
    }

    var idleCount: Int { idle.withLock { $0.count } }
}
