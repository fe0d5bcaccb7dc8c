// `/metrics` over a real socket: the Prometheus text and counters that move with the traffic.
import IdempotencyGateway
import TestSupport
import Testing

@testable import GatewayStore

/// The value of one series (`name{labels}` exactly as exposed) in Prometheus text, 0 when absent.
func metricValue(_ exposition: String, _ series: String) -> Double {
    for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).split(separator: " ").first ?? "") ?? .nan
    }
    return 0
}

@Suite("Admin: /metrics")
struct MetricsEndpointTests {
    static let forwarded = #"idempotency_requests_total{outcome="forwarded"}"#
    static let replayed = #"idempotency_requests_total{outcome="replayed"}"#
    static let conflict = #"idempotency_requests_total{outcome="conflict"}"#
    static let forwardedDurations = #"gateway_request_duration_seconds_count{outcome="forwarded"}"#

    @Test("the exposition has the gateway's series, and the request counters move by the requests sent")
    func countersMove() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        // Counters are process-wide: measure while no other gateway of this target runs. Engines elsewhere in the
        // process (other test targets, the README example) may still add to a window; such a window is measured
        // again, while a real miscount fails every window.
        try await TrafficLock.shared.exclusive {
            let gateway = try await Gateway.start(
                configuration: .forTesting(in: directory), backend: RecordingBackend(), logger: quietLogger)
            do {
                try await Self.measure(gateway)
            } catch {
                await gateway.shutdown()
                throw error
            }
            await gateway.shutdown()
        }
    }

    @Test("a body too large to store moves idempotency_body_omitted_total; a store failure with fail-open moves outcome fail_open")
    func omittedBodiesAndFailOpenAreCounted() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        var configuration = GatewayConfiguration.forTesting(in: directory)
        configuration.idempotency.maxStoredResponseBytes = 8  // the backend's body is 22 bytes
        configuration.idempotency.failOpen = true
        configuration.store.busyTimeout = .milliseconds(100)
        let omitted = "idempotency_body_omitted_total"
        let failOpen = #"idempotency_requests_total{outcome="fail_open"}"#
        try await TrafficLock.shared.exclusive {
            let gateway = try await Gateway.start(
                configuration: configuration, backend: RecordingBackend(), logger: quietLogger)
            do {
                let before = try await admin("/metrics", gateway: gateway).text
                #expect(try await post(port: gateway.port, key: "too-large").status == 201)
                // Another connection holds the write lock past the busy timeout: the claim fails, and fail-open
                // forwards the request without idempotency, marked.
                let other = try SQLiteConnection(path: configuration.store.path, flags: SQLiteConnection.writerFlags)
                try other.execute("BEGIN IMMEDIATE")
                let degraded = try await post(port: gateway.port, key: "degraded")
                try other.execute("ROLLBACK")
                try other.close()
                #expect(degraded.status == 201)
                #expect(degraded.header("Idempotency-Degraded") == "true")
                let after = try await admin("/metrics", gateway: gateway).text
                // Process-wide counters: at least this gateway's own (exactly, when the suite runs alone).
                #expect(metricValue(after, omitted) - metricValue(before, omitted) >= 1)
                #expect(metricValue(after, failOpen) - metricValue(before, failOpen) >= 1)
            } catch {
                await gateway.shutdown()
                throw error
            }
            await gateway.shutdown()
        }
    }

    /// Sends rounds of 3 new keys and 1 replay until a round is counted exactly (at most 5 rounds).
    static func measure(_ gateway: Gateway) async throws {
        let scrape = { try await admin("/metrics", gateway: gateway) }
        let first = try await scrape()
        #expect(first.status == 200)
        #expect(first.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)

        var exact = false
        var rounds = 0
        while !exact, rounds < 5 {
            rounds += 1
            let before = try await scrape().text
            for index in 0..<3 {
                #expect(try await post(port: gateway.port, key: "metrics-\(rounds)-\(index)").status == 201)
            }
            #expect(try await post(port: gateway.port, key: "metrics-\(rounds)-0").status == 201)  // a replay
            let after = try await scrape().text
            let deltas = [forwarded, replayed, conflict, forwardedDurations].map {
                metricValue(after, $0) - metricValue(before, $0)
            }
            #expect(deltas.allSatisfy { $0 >= 0 }, "\(deltas)")
            exact = deltas == [3, 1, 0, 3]
            if !exact { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(exact, "no round counted exactly 3 forwarded and 1 replayed")

        let last = try await scrape().text
        for name in [
            "idempotency_requests_total", "gateway_request_duration_seconds", "idempotency_bloom_total",
            "idempotency_store_duration_seconds", "gateway_keys_stored", "gateway_requests_in_flight",
            "gateway_buffered_body_bytes", "gateway_buffered_body_refusals_total",
        ] {
            #expect(last.contains("# TYPE \(name) "), "missing \(name)")
        }
        #expect(metricValue(last, #"idempotency_bloom_total{result="negative"}"#) >= Double(3 * rounds))
        #expect(metricValue(last, #"gateway_keys_stored{state="completed"}"#) == Double(3 * rounds))
        // Published at each scrape (process-wide: other tests' gateways may have requests in flight).
        #expect(metricValue(last, "gateway_requests_in_flight") >= 0)
        // This gateway's own budget, published at each scrape: the bodies its RecordingBackend keeps.
        #expect(metricValue(last, "gateway_buffered_body_bytes") == Double(gateway.bufferedBodyBytes))
        #expect(gateway.bufferedBodyBytes > 0)
    }
}
