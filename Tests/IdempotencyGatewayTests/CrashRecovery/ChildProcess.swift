// The built `idempotency-gateway` executable as a child process, awaited without blocking a cooperative thread.
import Foundation
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A running `idempotency-gateway` child: its standard output and error are collected as they arrive, and its
/// exit is delivered through `terminationHandler` and a continuation (never a blocking `waitUntilExit`).
final class ChildProcess: Sendable {
    /// How a child ended.
    struct Exit: Equatable, CustomStringConvertible {
        /// The exit status, or the signal number when ``signalled``.
        var status: Int32
        var signalled: Bool

        var description: String { signalled ? "signal \(status)" : "exit \(status)" }
    }

    private let sink = Sink()
    private let process: Process
    /// The child's process id.
    let pid: Int32

    /// Starts the executable with `arguments` in `directory`; `GATEWAY_*` variables are not inherited.
    init(_ arguments: [String], directory: URL, environment: [String: String] = [:]) throws {
        let executable = try #require(GatewayExecutable.url, "idempotency-gateway executable not found next to the tests")
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GATEWAY_") }
        env.merge(environment) { _, new in new }
        process.environment = env
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        let sink = self.sink
        // Each pipe is drained by a blocking read loop on a thread of its own, which lives as long as the child's
        // output does, rather than on a Dispatch worker thread (the threads that also run Swift's tasks here).
        for (pipe, isError) in [(output, false), (error, true)] {
            let handle = pipe.fileHandleForReading
            let thread = Thread { sink.drain(handle, standardError: isError) }
            thread.name = "child-process-drain"
            thread.start()
        }
        process.terminationHandler = { process in
            sink.exited(Exit(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal))
        }
        try process.run()
        pid = process.processIdentifier
    }

    /// Runs the executable to completion and returns its exit and output.
    static func run(_ arguments: [String], directory: URL, environment: [String: String] = [:]) async throws
        -> (exit: Exit, standardOutput: String, standardError: String)
    {
        let child = try ChildProcess(arguments, directory: directory, environment: environment)
        let exit = await child.exit()
        return (exit, child.standardOutput, child.standardError)
    }

    var standardOutput: String { sink.text(standardError: false) }
    var standardError: String { sink.text(standardError: true) }

    /// Sends `signal` (e.g. `SIGKILL`, `SIGTERM`) unless the child has already exited.
    func signal(_ signal: Int32) {
        if !sink.hasExited { _ = kill(pid, signal) }
    }

    /// Waits for the child to exit and its output pipes to close.
    func exit() async -> Exit {
        await sink.exit()
    }

    /// Waits until a line of standard error contains `text`; returns that line.
    func line(containing text: String, timeout: Duration = .seconds(20)) async throws -> String {
        var found: String?
        _ = await eventually(timeout: timeout) {
            found = standardError.split(separator: "\n").first { $0.contains(text) }.map(String.init)
            return found != nil || sink.hasExited
        }
        return try #require(found, "no line containing '\(text)' from the child; stderr:\n\(standardError)")
    }

    /// Waits for the `idempotency-gateway ready` line and returns the client port from its `listen=HOST:PORT`.
    func readyPort() async throws -> UInt16 {
        try await readyPort(of: "listen")
    }

    /// The port in the `name=HOST:PORT` field of the `idempotency-gateway ready` line (`listen` or `admin`).
    func readyPort(of name: String) async throws -> UInt16 {
        let line = try await line(containing: "idempotency-gateway ready")
        let field = try #require(line.split(separator: " ").first { $0.hasPrefix(name + "=") }, "\(line)")
        return try #require(field.split(separator: ":").last.flatMap { UInt16($0) }, "\(line)")
    }

    /// Collected output and the exit, shared with Foundation's handler threads.
    private final class Sink: Sendable {
        private struct State {
            var output: [UInt8] = []
            var error: [UInt8] = []
            var openPipes = 2
            var exit: Exit?
            var waiters: [CheckedContinuation<Exit, Never>] = []
        }

        private let state = Mutex(State())

        /// Reads `handle` until end of file (blocking the calling Dispatch thread).
        func drain(_ handle: FileHandle, standardError: Bool) {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                state.withLock { state in
                    if standardError { state.error += data } else { state.output += data }
                }
            }
            finish { $0.openPipes -= 1 }
        }

        func exited(_ exit: Exit) { finish { $0.exit = exit } }

        var hasExited: Bool { state.withLock { $0.exit != nil } }

        func text(standardError: Bool) -> String {
            state.withLock { String(decoding: standardError ? $0.error : $0.output, as: UTF8.self) }
        }

        func exit() async -> Exit {
            await withCheckedContinuation { continuation in
                let done: Exit? = state.withLock { state in
                    if let exit = state.exit, state.openPipes == 0 { return exit }
                    state.waiters.append(continuation)
                    return nil
                }
                if let done { continuation.resume(returning: done) }
            }
        }

        private func finish(_ change: (inout State) -> Void) {
            let (exit, waiters): (Exit?, [CheckedContinuation<Exit, Never>]) = state.withLock { state in
                change(&state)
                guard let exit = state.exit, state.openPipes == 0 else { return (nil, []) }
                defer { state.waiters = [] }
                return (exit, state.waiters)
            }
            if let exit { for waiter in waiters { waiter.resume(returning: exit) } }
        }
    }
}
