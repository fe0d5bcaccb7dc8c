import Foundation
import GatewayBackends
import GatewayHTTP
import GatewayServer
import GatewaySockets
import HTTPTypes
import Testing
import TestSupport

/// What a `curl` run printed.
struct CurlResult {
    var exitCode: Int32
    var output: [UInt8]
    var errors: String
    var elapsed: Duration
    var text: String { String(decoding: output, as: UTF8.self) }
}

/// Runs /usr/bin/curl with `arguments` as a child process. The wait is a continuation resumed by the
/// termination handler: no cooperative thread blocks. Output goes to files, so no pipe can fill up.
func runCurl(_ arguments: [String]) async throws -> CurlResult {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-curl-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let outURL = directory.appendingPathComponent("stdout")
    let errURL = directory.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["--max-time", "20", "--no-progress-meter"] + arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    let start = ContinuousClock.now
    let exitCode: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    let elapsed = ContinuousClock.now - start
    try out.close()
    try err.close()
    return CurlResult(
        exitCode: exitCode, output: Array(try Data(contentsOf: outURL)),
        errors: String(decoding: try Data(contentsOf: errURL), as: UTF8.self), elapsed: elapsed)
}

/// Writes `bytes` to a new temporary file and returns its path (removed by `cleanup`).
func temporaryFile(_ bytes: [UInt8]) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-body-\(UUID().uuidString)")
    try Data(bytes).write(to: url)
    return url.path
}

/// The gateway driven by a real HTTP client.
@Suite("Reverse proxy: curl")
struct ProxyCurlTests {
    static let upstreamReply: @Sendable (GatewayRequest) async throws -> GatewayResponse = { request in
        var fields = HTTPFields()
        fields[.contentType] = "text/plain"
        fields[HTTPField.Name("X-From-Upstream")!] = "yes"
        let text = "\(request.head.method.rawValue) \(request.head.path ?? "") \(request.body.count) bytes fnv=\(fnv1a(request.body))"
        return GatewayResponse(status: .ok, headerFields: fields, body: Array(text.utf8))
    }

    /// Splits `curl -i` output into its response heads (interim ones included) and the final body.
    static func split(_ text: String) -> (heads: [String], body: String) {
        var heads: [String] = []
        var rest = Substring(text)
        while rest.hasPrefix("HTTP/"), let end = rest.range(of: "\r\n\r\n") {
            heads.append(String(rest[..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        return (heads, String(rest))
    }

    @Test func get() async throws {
        try await withRecordingUpstream(respond: Self.upstreamReply) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let url = "http://127.0.0.1:\(gateway.port)/hello?x=1&y=2"
                let result = try await runCurl(["-sS", "-i", "-H", "X-Test: 1", url])
                #expect(result.exitCode == 0, "\(result.errors)")
                let (heads, body) = Self.split(result.text)
                #expect(heads.count == 1)
                #expect(heads.first?.hasPrefix("HTTP/1.1 200 OK\r\n") == true, "\(result.text)")
                #expect(heads.first?.contains("X-From-Upstream: yes") == true)
                #expect(body == "GET /hello?x=1&y=2 0 bytes fnv=\(fnv1a([]))")
                let seen = try #require(upstream.last)
                #expect(seen.head.authority == "127.0.0.1:\(gateway.port)")
                #expect(seen.head.headerFields[.userAgent]?.hasPrefix("curl/") == true)
                #expect(seen.head.headerFields[HTTPField.Name("X-Test")!] == "1")
                #expect(seen.head.headerFields[.accept] == "*/*")
            }
        }
    }

    @Test func postBinaryFile() async throws {
        let bytes = patternBytes(300_000)
        let path = try temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withRecordingUpstream(respond: Self.upstreamReply) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let url = "http://127.0.0.1:\(gateway.port)/upload"
                for extra in [[], ["-H", "Transfer-Encoding: chunked"]] {
                    let result = try await runCurl(["-sS", "-i", "--data-binary", "@\(path)"] + extra + [url])
                    #expect(result.exitCode == 0, "\(result.errors)")
                    let (heads, body) = Self.split(result.text)
                    #expect(heads.last?.hasPrefix("HTTP/1.1 200 OK") == true, "\(result.text.prefix(300))")
                    #expect(body == "POST /upload \(bytes.count) bytes fnv=\(fnv1a(bytes))")
                    let seen = try #require(upstream.last)
                    #expect(seen.body == bytes)
                    #expect(seen.head.headerFields[.contentType] == "application/x-www-form-urlencoded")
                    // Over the streaming size: a sized body goes on sized, a chunked one chunked (streamed either way).
                    if extra.isEmpty {
                        #expect(seen.head.headerFields[.contentLength] == "\(bytes.count)")
                        #expect(seen.head.headerFields[.transferEncoding] == nil)
                    } else {
                        #expect(seen.head.headerFields[.contentLength] == nil)
                        #expect(seen.head.headerFields[.transferEncoding] == "chunked")
                    }
                }
            }
        }
    }

    @Test func expectContinue() async throws {
        let bytes = patternBytes(4096)
        let path = try temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withRecordingUpstream(respond: Self.upstreamReply) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let url = "http://127.0.0.1:\(gateway.port)/expect"
                // curl waits up to --expect100-timeout for `100 Continue` before sending the body anyway; a quick
                // run shows the gateway sent it.
                let result = try await runCurl([
                    "-sS", "-i", "--expect100-timeout", "60", "-H", "Expect: 100-continue", "--data-binary", "@\(path)", url,
                ])
                #expect(result.exitCode == 0, "\(result.errors)")
                #expect(result.elapsed < .seconds(30), "curl waited for 100 Continue: \(result.elapsed)")
                let (heads, body) = Self.split(result.text)
                #expect(heads.count == 2, "\(result.text.prefix(400))")
                #expect(heads.first?.hasPrefix("HTTP/1.1 100 Continue") == true)
                #expect(heads.last?.hasPrefix("HTTP/1.1 200 OK") == true)
                #expect(body == "POST /expect 4096 bytes fnv=\(fnv1a(bytes))")
                #expect(upstream.last?.body == bytes)
                // The gateway answered the expectation; the buffered body went upstream whole, without it.
                #expect(upstream.last?.head.headerFields[.expect] == nil)
            }
        }
    }

    @Test func http10() async throws {
        try await withRecordingUpstream(respond: Self.upstreamReply) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let url = "http://127.0.0.1:\(gateway.port)/old"
                let result = try await runCurl(["-sS", "-i", "--http1.0", url])
                #expect(result.exitCode == 0, "\(result.errors)")
                let (heads, body) = Self.split(result.text)
                #expect(heads.first?.hasPrefix("HTTP/1.0 200 OK\r\n") == true, "\(result.text)")
                #expect(heads.first?.contains("Connection: close") == true)
                #expect(body == "GET /old 0 bytes fnv=\(fnv1a([]))")
                #expect(upstream.last?.head.authority == "127.0.0.1:\(gateway.port)")
                // The gateway closed the HTTP/1.0 connection after the response.
                #expect(await eventually { gateway.server.connectionCount == 0 })
            }
        }
    }

    @Test func head() async throws {
        try await withRecordingUpstream(respond: Self.upstreamReply) { upstream in
            try await withGateway(to: upstream.address) { gateway in
                let url = "http://127.0.0.1:\(gateway.port)/h"
                let get = try await runCurl(["-sS", "-i", url])
                let head = try await runCurl(["-sS", "-I", url])
                #expect(get.exitCode == 0 && head.exitCode == 0, "\(get.errors) \(head.errors)")
                let length = "GET /h 0 bytes fnv=\(fnv1a([]))".utf8.count
                #expect(Self.split(get.text).heads.first?.contains("Content-Length: \(length)") == true)
                // HEAD: the upstream's handler computed a body; the gateway relays its length, not the bytes.
                let (heads, body) = Self.split(head.text)
                #expect(heads.first?.hasPrefix("HTTP/1.1 200 OK") == true)
                #expect(heads.first?.contains("Content-Length: \("HEAD /h 0 bytes fnv=\(fnv1a([]))".utf8.count)") == true, "\(head.text)")
                #expect(body.isEmpty)
                #expect(upstream.requests.map(\.head.method) == [.get, .head])
            }
        }
    }
}
