import HTTPTypes
import Idempotency
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test func defaults() {
        let configuration = IdempotencyConfiguration()
        #expect(configuration.methods == [.post, .patch])
        #expect(configuration.ttl == .seconds(86_400))
        #expect(configuration.lease == .seconds(60))
        #expect(configuration.upstreamTimeout == .seconds(30))
        #expect(configuration.maxKeyLength == 255)
        #expect(configuration.scopeHeaders == [.authorization])
        #expect(configuration.fingerprintHeaders == [.contentType])
        #expect(!configuration.store5xx && !configuration.failOpen && !configuration.requireKey)
        #expect(configuration.maxStoredResponseBytes == 4 * 1024 * 1024)
        #expect(configuration.droppedResponseHeaders.contains(.setCookie))
    }

    @Test func longestPrefixWinsOnSegmentBoundaries() {
        let configuration = IdempotencyConfiguration(routes: [
            .init(pathPrefix: "/payments", requireKey: true),
            .init(pathPrefix: "/payments/refunds", methods: [.post, .put], ttl: .seconds(60)),
            .init(pathPrefix: "/reports", methods: []),
        ])
        let refunds = configuration.route(for: "/payments/refunds/7?x=1")
        #expect(refunds.pathPrefix == "/payments/refunds")
        #expect(refunds.methods == [.post, .put])
        #expect(refunds.requireKey == false)
        #expect(refunds.ttl == .seconds(60))
        let payments = configuration.route(for: "/payments?x=1")
        #expect(payments.pathPrefix == "/payments" && payments.requireKey && payments.methods == [.post, .patch])
        #expect(configuration.route(for: "/payments-archive").pathPrefix == nil)
        #expect(configuration.route(for: "/reports/1").methods.isEmpty)
        let fallback = configuration.route(for: "/orders")
        #expect(fallback.pathPrefix == nil && fallback.ttl == .seconds(86_400))
    }

    @Test func prefixWithTrailingSlashOrRoot() {
        #expect(IdempotencyConfiguration.Route(pathPrefix: "/api/").matches(path: "/api/x"))
        #expect(!IdempotencyConfiguration.Route(pathPrefix: "/api/").matches(path: "/api"))
        #expect(IdempotencyConfiguration.Route(pathPrefix: "/").matches(path: "/anything"))
    }
}
