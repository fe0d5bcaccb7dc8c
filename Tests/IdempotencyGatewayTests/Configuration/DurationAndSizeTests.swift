import IdempotencyGateway
import Testing

@Suite("Duration and size syntax")
struct DurationAndSizeTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("10s", .seconds(10)), ("3m", .seconds(180)),
        ("24h", .seconds(86_400)), ("1h30m", .seconds(5_400)), ("2m500ms", .milliseconds(120_500)),
        ("1h2m3s4ms", .milliseconds(3_723_004)), ("0", .zero), ("0s", .zero), (" 15s ", .seconds(15)),
    ])
    func parsesDurations(text: String, expected: Duration) {
        #expect(DurationValue.parse(text) == expected)
    }

    @Test(arguments: ["", "10", "10x", "s", "1.5s", "-1s", "10 s", "1m1h", "1s1s", "1d", "ms500", "99999999999999h"])
    func rejectsJunkDurations(text: String) {
        #expect(DurationValue.parse(text) == nil)
    }

    @Test(arguments: [
        (Duration.milliseconds(500), "500ms"), (.seconds(90 * 60), "1h30m"), (.seconds(86_400), "24h"),
        (.zero, "0"), (.milliseconds(61_001), "1m1s1ms"),
    ])
    func formatsDurationsThatParseBack(duration: Duration, expected: String) {
        #expect(DurationValue.format(duration) == expected)
        #expect(DurationValue.parse(expected) == duration)
    }

    @Test(arguments: [
        ("1024", 1024), ("0", 0), ("64KiB", 65_536), ("8MiB", 8_388_608), ("1GiB", 1 << 30), ("1MB", 1_000_000),
        ("2kb", 2_000), ("10B", 10), ("4 MiB", 4 << 20), ("1gb", 1_000_000_000),
    ])
    func parsesSizes(text: String, expected: Int) {
        #expect(ByteSizeValue.parse(text) == expected)
    }

    @Test(arguments: ["", "-5", "1.5MiB", "MiB", "8MB8", "12XB", "99999999999999999GiB"])
    func rejectsJunkSizes(text: String) {
        #expect(ByteSizeValue.parse(text) == nil)
    }

    @Test func formatsSizesWithTheLargestExactUnit() {
        #expect(ByteSizeValue.format(8_388_608) == "8MiB")
        #expect(ByteSizeValue.format(1_000) == "1000")
        #expect(ByteSizeValue.format(3 << 30) == "3GiB")
    }

    @Test func parsesListenAddresses() {
        #expect(HostPort(parsing: "127.0.0.1:8080") == HostPort(host: "127.0.0.1", port: 8080))
        #expect(HostPort(parsing: "[::1]:8080") == HostPort(host: "::1", port: 8080))
        #expect(HostPort(parsing: "localhost:0") == HostPort(host: "localhost", port: 0))
        #expect(HostPort(parsing: "[::1]:8080")?.description == "[::1]:8080")
        for bad in ["8080", "::1:8080", "host:", "host:70000", "[::1]", ":8080", "a b:1"] {
            #expect(HostPort(parsing: bad) == nil, "\(bad)")
        }
        #expect(HostPort(host: "127.0.0.2", port: 1).isLoopback)
        #expect(HostPort(host: "::1", port: 1).isLoopback)
        #expect(!HostPort(host: "0.0.0.0", port: 1).isLoopback)
        #expect(!HostPort(host: "10.0.0.1", port: 1).isLoopback)
    }

    @Test func parsesUpstreamURLs() {
        let endpoint = UpstreamEndpoint(parsing: "http://api.internal:3000/base/")
        #expect(endpoint == UpstreamEndpoint(address: HostPort(host: "api.internal", port: 3000), basePath: "/base"))
        #expect(UpstreamEndpoint(parsing: "http://[::1]")?.address == HostPort(host: "::1", port: 80))
        #expect(UpstreamEndpoint(parsing: "https://x") == nil)
        #expect(UpstreamEndpoint(parsing: "http://user@x") == nil)
        #expect(UpstreamEndpoint.problem(with: "https://x")?.contains("TLS is not supported") == true)
        #expect(UpstreamEndpoint.problem(with: "http://x:1/a") == nil)
    }
}
