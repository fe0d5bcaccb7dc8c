@preconcurrency import Dispatch  // Dispatch sources are not marked Sendable; this file keeps them in a Mutex
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension Gateway {
    /// Runs a gateway until SIGTERM or SIGINT, then shuts it down gracefully (used by `idempotency-gateway serve`).
    public static func run(configuration: GatewayConfiguration) async throws {
        var logger = Logger(label: "idempotency-gateway")
        logger.logLevel = configuration.log.level
        ProcessLimits.raiseDescriptorLimit(for: configuration, logger: logger)
        // Take over SIGTERM/SIGINT before starting, so a signal during start-up also shuts down gracefully.
        let signals = TerminationSignals()
        let gateway = try await Gateway.start(configuration: configuration, logger: logger)
        logger.notice(
            "idempotency-gateway ready",
            metadata: [
                "listen": "\(configuration.listen.host):\(gateway.port)",
                "admin": "\(gateway.adminPort.map { "\(configuration.admin.listen!.host):\($0)" } ?? "off")",
                "backend": "\(configuration.upstream.url.map { "\($0)" } ?? "echo")",
                "store": "\(configuration.store.path)",
            ])
        let signal = await signals.wait()
        logger.notice("shutting down", metadata: ["signal": "\(signal)"])
        await gateway.shutdown()
    }
}

/// SIGTERM and SIGINT, delivered through Dispatch signal sources instead of killing the process.
/// The first signal is remembered even when nobody waits yet.
private final class TerminationSignals: Sendable {
    private struct State {
        var received: Int32?
        var waiter: CheckedContinuation<Int32, Never>?
        var sources: [any DispatchSourceSignal] = []
    }

    private let state = Mutex(State())

    init() {
        let queue = DispatchQueue(label: "idempotency-gateway.signals")
        for number in [SIGTERM, SIGINT] {
            Glibc.signal(number, SIG_IGN)  // the default action would kill the process before the source sees it
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in self?.fire(number) }
            source.resume()
            state.withLock { $0.sources.append(source) }
        }
    }

    /// Suspends until SIGTERM or SIGINT arrives (or returns at once if one did); returns its number.
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let received: Int32? = state.withLock { state in
                if let received = state.received { return received }
                state.waiter = continuation
                return nil
            }
            if let received { continuation.resume(returning: received) }
        }
    }

    private func fire(_ number: Int32) {
        let waiter: CheckedContinuation<Int32, Never>? = state.withLock { state in
            if state.received == nil { state.received = number }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: number)
    }
}
