import GatewayHTTP
import HTTPTypes
import Idempotency
import Testing

@Suite("Fingerprint and scope")
struct FingerprintAndScopeTests {
    let headers: [HTTPField.Name] = [.contentType]

    @Test func sameRequestSameFingerprint() {
        let a = RequestFingerprint(makeRequest(), headers: headers)
        let b = RequestFingerprint(makeRequest(), headers: headers)
        #expect(a == b)
        #expect(a.bytes.count == 32)
    }

    @Test func everyPartCounts() {
        let base = RequestFingerprint(makeRequest(), headers: headers)
        #expect(RequestFingerprint(makeRequest(method: .patch), headers: headers) != base)
        #expect(RequestFingerprint(makeRequest(path: "/orders?x=1"), headers: headers) != base)
        #expect(RequestFingerprint(makeRequest(path: "/other"), headers: headers) != base)
        #expect(RequestFingerprint(makeRequest(body: #"{"amount":11}"#), headers: headers) != base)
        var other = makeRequest()
        other.head.headerFields[.contentType] = "text/plain"
        #expect(RequestFingerprint(other, headers: headers) != base)
        // Headers not configured do not count; the key itself does not count.
        #expect(RequestFingerprint(makeRequest(key: "other", headers: [(.accept, "x")]), headers: headers) == base)
    }

    @Test func lengthPrefixesKeepConcatenationsApart() {
        // "/a" + body "bc" vs "/ab" + body "c": same concatenation, different requests.
        let one = RequestFingerprint(makeRequest(path: "/a", body: "bc"), headers: [])
        let two = RequestFingerprint(makeRequest(path: "/ab", body: "c"), headers: [])
        #expect(one != two)
    }

    @Test func scopeHashesCredentialsAndIsEmptyWithoutThem() {
        let hasher = ScopeHasher(headers: [.authorization])
        var fields = HTTPFields()
        #expect(hasher.scope(of: fields) == "")
        fields[.authorization] = "Bearer secret-token"
        let scope = hasher.scope(of: fields)
        #expect(scope.count == 64)
        #expect(scope.allSatisfy { $0.isHexDigit })
        #expect(!scope.contains("secret"))
        fields[.authorization] = "Bearer other-token"
        #expect(hasher.scope(of: fields) != scope)
    }
}
