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

    @Test(arguments: [
        "/v1/payments", "/v1/./payments", "/v1/x/../payments", "/v1//payments", "/v1/%70ayments",
        "/v1/payments/", "/v1/payments/7?x=1", "/v1/x/%2e%2e/payments", "//v1/payments", "/../v1/payments",
        "/v1/%2E/payments/7",
    ])
    func spellingsOfARoutePickTheRoute(path: String) {
        let configuration = IdempotencyConfiguration(routes: [.init(pathPrefix: "/v1/payments", requireKey: true)])
        let route = configuration.route(for: path)
        #expect(route.pathPrefix == "/v1/payments")
        #expect(route.requireKey)
        #expect(configuration.routes[0].matches(path: path))
    }

    @Test(arguments: [
        "/v1/paymentsX", "/v1/payments%58", "/v1/%2Fpayments", "/v1%2Fpayments", "/v1/other?p=/v1/payments",
        "/v1/payments/../other", "/v1/pay%6Dents-archive",
    ])
    func otherPathsDoNotPickTheRoute(path: String) {
        let configuration = IdempotencyConfiguration(routes: [.init(pathPrefix: "/v1/payments", requireKey: true)])
        #expect(configuration.route(for: path).pathPrefix == nil)
        #expect(configuration.route(for: path).requireKey == false)
    }

    @Test func longestPrefixIsChosenOnTheNormalisedPath() {
        let configuration = IdempotencyConfiguration(routes: [
            .init(pathPrefix: "/v1", requireKey: false),
            .init(pathPrefix: "/v1/payments/refunds", methods: [.post, .put]),
        ])
        #expect(configuration.route(for: "/v1/payments//refunds/../refunds/7").pathPrefix == "/v1/payments/refunds")
        #expect(configuration.route(for: "/v1/payments/%72efunds").methods == [.post, .put])
        #expect(configuration.route(for: "/v1/payments/refunds/..").pathPrefix == "/v1")
    }

    @Test func prefixesAreNormalisedWhenConfigured() {
        var route = IdempotencyConfiguration.Route(pathPrefix: "/v1//%70ayments/.")
        #expect(route.pathPrefix == "/v1/payments/")
        #expect(route.matches(path: "/v1/payments/7"))
        route.pathPrefix = "/a/b/../c"
        #expect(route.pathPrefix == "/a/c")
        #expect(route.matches(path: "/a/./c/d"))
        #expect(IdempotencyConfiguration.Route(pathPrefix: "/a%2fb").pathPrefix == "/a%2Fb")
        #expect(IdempotencyConfiguration.Route(pathPrefix: "/a%2fb").matches(path: "/a%2Fb/c"))
        // Already normal prefixes are kept as written.
        for prefix in ["/", "/payments", "/api/", "/v1/payments/refunds"] {
            #expect(IdempotencyConfiguration.Route(pathPrefix: prefix).pathPrefix == prefix)
        }
        #expect(IdempotencyConfiguration.Route(pathPrefix: "/").matches(path: "/../x"))
    }
}
