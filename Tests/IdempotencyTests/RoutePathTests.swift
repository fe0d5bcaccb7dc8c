import Idempotency
import Testing

@Suite("Route path normalisation")
struct RoutePathTests {
    /// The address of a string's UTF-8 bytes (for strings too long to be stored inline).
    private static func storage(_ string: String) -> UnsafePointer<UInt8>? {
        string.utf8.withContiguousStorageIfAvailable { $0.baseAddress } ?? nil
    }

    @Test func normalPathIsReturnedWithoutANewString() {
        let path = "/v1/payments/refunds/.well-known/..x/7"
        let normalized = RoutePath.normalized(path)
        #expect(normalized == path[...])
        #expect(Self.storage(normalized.base) == Self.storage(path))

        let withQuery = "/v1/payments/refunds?next=/../x&y=%41"
        let sliced = RoutePath.normalized(withQuery)
        #expect(sliced == "/v1/payments/refunds")
        #expect(Self.storage(sliced.base) == Self.storage(withQuery))

        let rewritten = "/v1/payments/./refunds/long-enough"
        #expect(Self.storage(RoutePath.normalized(rewritten).base) != Self.storage(rewritten))
    }

    @Test(arguments: [
        ("/v1/./payments", "/v1/payments"),
        ("/v1/x/../payments", "/v1/payments"),
        ("/v1//payments", "/v1/payments"),
        ("/v1/%70ayments", "/v1/payments"),
    ])
    func reviewBypassesNormaliseToTheRoute(path: String, expected: String) {
        #expect(RoutePath.normalized(path) == expected[...])
    }

    @Test func queryIsIgnored() {
        #expect(RoutePath.normalized("/v1/payments?x=1") == "/v1/payments")
        #expect(RoutePath.normalized("/v1/./payments?to=/../admin&a=%2e%2e") == "/v1/payments")
        #expect(RoutePath.normalized("/v1/payments?") == "/v1/payments")
        // RFC 3986 §6.2.3: an empty path is "/".
        #expect(RoutePath.normalized("") == "/")
        #expect(RoutePath.normalized("?x=1") == "/")
    }

    @Test func unreservedCharactersAreDecodedInEitherCase() {
        #expect(RoutePath.normalized("/%41%5a%61%7A%30%39") == "/AZaz09")
        #expect(RoutePath.normalized("/%2d%2E%5f%7e%7E") == "/-._~~")
        #expect(RoutePath.normalized("/v1/%70%41yments") == "/v1/pAyments")
    }

    @Test func otherPercentEncodingsStayWithUpperCaseHex() {
        // An encoded slash is data, not a separator (RFC 3986 §2.2).
        #expect(RoutePath.normalized("/v1/%2Fpayments") == "/v1/%2Fpayments")
        #expect(RoutePath.normalized("/v1/%2fpayments") == "/v1/%2Fpayments")
        #expect(RoutePath.normalized("/v1%2fpayments/./x") == "/v1%2Fpayments/x")
        #expect(RoutePath.normalized("/a%3ab%c3%a9") == "/a%3Ab%C3%A9")
        // Decoded once only: %25 is "%", reserved-ish, so "%252e" is not a dot.
        #expect(RoutePath.normalized("/a/%252e%252e/b") == "/a/%252e%252e/b")
        // Not a percent-encoding: kept as is.
        #expect(RoutePath.normalized("/a%zz/b%4") == "/a%zz/b%4")
        #expect(RoutePath.normalized("/a%") == "/a%")
    }

    @Test func repeatedSlashesAreMerged() {
        #expect(RoutePath.normalized("//v1///payments") == "/v1/payments")
        #expect(RoutePath.normalized("/v1/payments//") == "/v1/payments/")
        #expect(RoutePath.normalized("//") == "/")
    }

    @Test func dotSegmentsAreRemoved() {
        #expect(RoutePath.normalized("/v1/./payments/.") == "/v1/payments/")
        #expect(RoutePath.normalized("/v1/payments/x/..") == "/v1/payments/")
        #expect(RoutePath.normalized("/a/b/c/./../../g") == "/a/g")  // RFC 3986 §5.2.4 example
        #expect(RoutePath.normalized("/v1/x/%2e%2e/payments") == "/v1/payments")
        #expect(RoutePath.normalized("/v1/x/%2E./payments") == "/v1/payments")
        #expect(RoutePath.normalized("/v1/%2e/payments") == "/v1/payments")
        #expect(RoutePath.normalized("/v1/x//../payments") == "/v1/payments")
        // Dots inside a segment are not dot segments.
        #expect(RoutePath.normalized("/.well-known/..x/x../.x") == "/.well-known/..x/x../.x")
        #expect(RoutePath.normalized("/a/...") == "/a/...")
    }

    @Test func climbingAboveTheRootStaysAtTheRoot() {
        #expect(RoutePath.normalized("/..") == "/")
        #expect(RoutePath.normalized("/../../v1/payments") == "/v1/payments")
        #expect(RoutePath.normalized("/v1/../../../payments") == "/payments")
        #expect(RoutePath.normalized("/v1/%2e%2e/%2E%2E/..") == "/")
    }

    @Test func trailingSlashAndSegmentBoundariesAreKept() {
        #expect(RoutePath.normalized("/v1/payments/") == "/v1/payments/")
        #expect(RoutePath.normalized("/v1/paymentsX") == "/v1/paymentsX")
        #expect(RoutePath.normalized("/v1/payments%58") == "/v1/paymentsX")
        #expect(RoutePath.normalized("/") == "/")
    }

    @Test func otherTargetForms() {
        #expect(RoutePath.normalized("*") == "*")
        #expect(RoutePath.normalized("/café/./x") == "/café/x")
    }
}

@Suite("Route matching in the engine")
struct RouteMatchingEngineTests {
    private static let configuration = IdempotencyConfiguration(
        routes: [.init(pathPrefix: "/v1/payments", requireKey: true)])

    @Test(arguments: ["/v1/payments", "/v1/./payments", "/v1/x/../payments", "/v1//payments", "/v1/%70ayments"])
    func keylessSpellingOfARequiredRouteIs400(path: String) async {
        let harness = Harness(configuration: Self.configuration)
        let (response, outcome) = await harness.send(makeRequest(path: path, key: nil))
        #expect(outcome == .missingKey)
        #expect(response.head.status == .badRequest)
        #expect(harness.backend.callCount == 0)
    }

    @Test func forwardedPathIsTheOneReceived() async {
        let harness = Harness(configuration: Self.configuration)
        let (_, outcome) = await harness.send(makeRequest(path: "/v1/x/../%70ayments?a=1"))
        #expect(outcome == .forwarded)
        #expect(harness.backend.requests.map(\.head.path) == ["/v1/x/../%70ayments?a=1"])
    }
}
