// `kill -9` of the real executable mid-request and after a completed request, then a restart on the same store.
import Foundation
import IdempotencyGateway
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `idempotency-gateway serve` on a free port with `store` and `upstreamPort`; returns the child and its port.
func startServe(
    store: String, upstreamPort: UInt16, lease: String = "3s", directory: ScratchDirectory
) async throws -> (ChildProcess, UInt16) {
    let child = try ChildProcess(
        [
            "serve", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--store", store, "--lease", lease,
            "--upstream", "http://127.0.0.1:\(upstreamPort)",
        ],
        directory: directory.url)
    do {
        return (child, try await child.readyPort())
    } catch {
        child.signal(SIGKILL)
        throw error
    }
}

@Suite("Crash recovery: kill -9 and restart on the same store")
struct CrashRecoveryTests {
    @Test("killed mid-request: after restart the key answers 409 until the lease ends, then is forwarded once more")
    func killedWhileInFlight() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let origin = RecordingBackend()
        origin.hold()  // the upstream never answers the first request
        let store = directory.path("s.sqlite")
        try await withGateway(EchoAndProxyTests.upstreamConfiguration(in: directory), backend: origin) { upstream in
            defer { origin.release() }
            let (first, firstPort) = try await startServe(store: store, upstreamPort: upstream.port, directory: directory)
            defer { first.signal(SIGKILL) }
            let original = Task { try await post(port: firstPort, key: "crash-k", body: #"{"pay":1}"#) }
            #expect(await eventually(timeout: .seconds(20)) { origin.calls == 1 })  // claimed durably, then forwarded

            first.signal(SIGKILL)
            #expect(await first.exit() == ChildProcess.Exit(status: SIGKILL, signalled: true))
            await #expect(throws: (any Error).self) { try await original.value }

            let (second, port) = try await startServe(store: store, upstreamPort: upstream.port, directory: directory)
            defer { second.signal(SIGKILL) }
            let conflict = try await post(port: port, key: "crash-k", body: #"{"pay":1}"#)
            #expect(conflict.status == 409)
            #expect(conflict.header("Retry-After").flatMap { Int($0) }.map { (1...3).contains($0) } == true)
            #expect(origin.calls == 1)

            origin.release()  // from now on the upstream answers
            var takeover = conflict
            let deadline = ContinuousClock.now + .seconds(10)
            while takeover.status == 409, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                takeover = try await post(port: port, key: "crash-k", body: #"{"pay":1}"#)
            }
            #expect(takeover.status == 201)
            #expect(takeover.header("Idempotent-Replayed") == nil)
            #expect(origin.calls == 2)  // at least once after the lease ran out

            let replay = try await post(port: port, key: "crash-k", body: #"{"pay":1}"#)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(replay.body == takeover.body)
            #expect(origin.calls == 2)
        }
    }

    @Test("killed after a completed request: after restart the retry is replayed byte for byte, upstream untouched")
    func killedAfterCompletion() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let origin = RecordingBackend()
        let store = directory.path("s.sqlite")
        try await withGateway(EchoAndProxyTests.upstreamConfiguration(in: directory), backend: origin) { upstream in
            let (first, firstPort) = try await startServe(store: store, upstreamPort: upstream.port, directory: directory)
            defer { first.signal(SIGKILL) }
            let completed = try await post(port: firstPort, key: "crash-k2")
            #expect(completed.status == 201)
            #expect(origin.calls == 1)

            first.signal(SIGKILL)
            #expect(await first.exit() == ChildProcess.Exit(status: SIGKILL, signalled: true))

            let (second, port) = try await startServe(store: store, upstreamPort: upstream.port, directory: directory)
            defer { second.signal(SIGKILL) }
            let replay = try await post(port: port, key: "crash-k2")
            #expect(replay.status == 201)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(replay.body == completed.body)
            #expect(replay.header("Location") == completed.header("Location"))
            #expect(replay.header("Content-Type") == completed.header("Content-Type"))
            #expect(replay.header("Set-Cookie") == nil)
            #expect(origin.calls == 1)
        }
    }

    /// A keyed response over `max-stored-response-bytes` is recorded (status and headers) before its client gets
    /// the first byte: a crash in the middle of the download leaves a record, and the retry after a restart gets the
    /// replay without the body instead of running the upstream again.
    @Test("killed while a large keyed response is streamed: after restart the retry gets its status and headers")
    func killedWhileStreamingALargeResponse() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let size = 16 << 20
        let upstream = try ScriptedUpstream { connection in
            guard try await connection.readRequest() != nil else { return }
            try await connection.write(
                Array("HTTP/1.1 201 Created\r\nLocation: /exports/9\r\nContent-Length: \(size)\r\n\r\n".utf8)
                    + [UInt8](repeating: 0x61, count: 1 << 20))
            try await Task.sleep(for: .seconds(30))  // the rest never comes (cancelled when the test stops)
        }
        let store = directory.path("s.sqlite")
        let (first, firstPort) = try await startServe(store: store, upstreamPort: upstream.port, directory: directory)
        defer { first.signal(SIGKILL) }
        let client = try await TestClient.connect(port: firstPort)
        try await client.send(
            "POST /exports HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\nIdempotency-Key: export-crash\r\n"
                + "Content-Length: 2\r\n\r\n{}")
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while received.count < 64 << 10, ContinuousClock.now < deadline {
            _ = try await client.socket.read(deadline: deadline) { received += $0 }
        }
        #expect(String(decoding: received.prefix(32), as: UTF8.self).hasPrefix("HTTP/1.1 201 Created"))

        first.signal(SIGKILL)
        #expect(await first.exit() == ChildProcess.Exit(status: SIGKILL, signalled: true))
        client.close()

        let (second, port) = try await startServe(store: store, upstreamPort: upstream.port, directory: directory)
        defer { second.signal(SIGKILL) }
        let replay = try await post(port: port, key: "export-crash", body: "{}", path: "/exports")
        #expect(replay.status == 201)
        #expect(replay.header("Idempotent-Replayed") == "true")
        #expect(replay.header("Idempotent-Replay-Body") == "omitted")
        #expect(replay.header("Location") == "/exports/9")
        #expect(upstream.requests.count == 1)
        await upstream.stop()
    }

    @Test("SIGTERM shuts down gracefully: exit status 0 and a 'shutting down' log line")
    func gracefulTermination() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let store = directory.path("data/s.sqlite")  // the directory is created by serve
        let child = try ChildProcess(
            ["serve", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--store", store], directory: directory.url)
        defer { child.signal(SIGKILL) }
        let port = try await child.readyPort()
        let echo = try await post(port: port, key: "before-term")
        #expect(echo.status == 200)  // the built-in echo backend

        child.signal(SIGTERM)
        #expect(await child.exit() == ChildProcess.Exit(status: 0, signalled: false))
        #expect(child.standardError.contains("shutting down"))
        #expect(FileManager.default.fileExists(atPath: store))
    }

    @Test("SIGTERM lets a request in flight finish and store its response before the process exits")
    func terminationDrainsInFlightRequests() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let store = directory.path("s.sqlite")
        let arguments = ["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--store", store]
        let child = try ChildProcess(arguments, directory: directory.url)
        defer { child.signal(SIGKILL) }
        let port = try await child.readyPort()
        let adminPort = try await child.readyPort(of: "admin")

        let slow = Task { try await post(port: port, key: "draining", headers: [("Echo-Delay-Ms", "1500")]) }
        let inFlight = await eventually(timeout: .seconds(20)) {
            let record = try? await send("GET", "/keys/draining", port: adminPort)
            return record?.json["state"] as? String == "in_flight"
        }
        #expect(inFlight)
        child.signal(SIGTERM)
        let response = try await slow.value
        #expect(response.status == 200)
        #expect(await child.exit() == ChildProcess.Exit(status: 0, signalled: false))
        #expect(child.standardError.contains("shutting down"))

        let restarted = try ChildProcess(arguments, directory: directory.url)
        defer { restarted.signal(SIGKILL) }
        let replay = try await post(port: try await restarted.readyPort(), key: "draining")
        #expect(replay.header("Idempotent-Replayed") == "true")
        #expect(replay.body == response.body)
    }
}
