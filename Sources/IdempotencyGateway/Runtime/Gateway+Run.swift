import Dispatch
import Logging

#if canImport(Glibc)
import Glibc
#endif

extension Gateway {
    /// Runs a gateway until SIGTERM or SIGINT, then shuts it down gracefully (used by `idempotency-gateway serve`).
    public static func run(configuration: GatewayConfiguration) async throws {
        var logger = Logger(label: "idempotency-gateway")
        logger.logLevel = configuration.log.level
        let gateway = try await Gateway.start(configuration: configuration, logger: logger)
        logger.notice(
            "idempotency-gateway ready",
            metadata: [
                "listen": "\(configuration.listen.host):\(gateway.port)",
                "admin": "\(gateway.adminPort.map { "\(configuration.admin.listen!.host):\($0)" } ?? "off")",
                "backend": "\(configuration.upstream.url.map { "\($0)" } ?? "echo")",
                "store": "\(configuration.store.path)",
            ])
        let signal = await waitForTerminationSignal()
        logger.notice("shutting down", metadata: ["signal": "\(signal)"])
        await gateway.shutdown()
    }

    /// Suspends until SIGTERM or SIGINT arrives; returns its number.
    private static func waitForTerminationSignal() async -> Int32 {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "idempotency-gateway.signals")
            let once = SignalOnce(continuation)
            for number in [SIGTERM, SIGINT] {
                Glibc.signal(number, SIG_IGN)  // handled by the Dispatch source below instead
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler { once.fire(number) }
                source.resume()
                once.keep(source)
            }
        }
    }
}

/// Resumes the waiting task on the first signal and keeps the signal sources alive.
/// `@unchecked Sendable`: every field is touched only on the serial signal queue (and in `keep`, before the
/// sources are resumed... which happens on the caller's thread before any event can run).
private final class SignalOnce: @unchecked Sendable {
    private var continuation: CheckedContinuation<Int32, Never>?
    private var sources: [any DispatchSourceSignal] = []

    init(_ continuation: CheckedContinuation<Int32, Never>) {
        self.continuation = continuation
    }

    func keep(_ source: any DispatchSourceSignal) {
        sources.append(source)
    }

    func fire(_ number: Int32) {
        continuation?.resume(returning: number)
        continuation = nil
    }
}
