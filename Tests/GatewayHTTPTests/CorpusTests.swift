import GatewayHTTP
import HTTPTypes
import Testing

/// Conformance cases derived from llhttp's and http-desync-guardian's test corpora (see Fixtures/README.md).
/// Every case is decoded twice, all at once and one byte at a time, and both runs must agree.
@Suite("Corpus conformance")
struct CorpusTests {
    /// The (scheme, authority, path) a request target should decode to; authority falls back to `host`.
    private func expectedTarget(_ message: CorpusCase.Message) -> (String?, String?, String?) {
        let target = message.target ?? ""
        guard !target.hasPrefix("/"), target != "*", let range = target.range(of: "://") else {
            return (nil, message.host, target)
        }
        let scheme = target[..<range.lowerBound].lowercased()
        let rest = target[range.upperBound...]
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var path = String(rest[pathStart...])
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        return (scheme, String(rest[..<pathStart]), path)
    }

    private func check(_ request: DecodedRequest, _ message: CorpusCase.Message, id: String) {
        let (scheme, authority, path) = expectedTarget(message)
        #expect(request.method == message.method, "\(id)")
        #expect(request.scheme == scheme, "\(id)")
        #expect(request.authority == authority, "\(id)")
        #expect(request.path == path, "\(id)")
        #expect(request.version == message.version, "\(id)")
        #expect(request.headers == message.headers, "\(id)")
        #expect(request.body == latin1Bytes(message.body), "\(id)")
        #expect(request.trailers == (message.trailers ?? []), "\(id)")
    }

    private func check(_ response: DecodedResponse, _ message: CorpusCase.Message, id: String) {
        #expect(response.status == message.status, "\(id)")
        #expect(response.reason == message.reason, "\(id)")
        if !response.informational { #expect(response.version == message.version, "\(id)") }
        #expect(response.headers == message.headers, "\(id)")
        #expect(response.body == latin1Bytes(message.body), "\(id)")
        #expect(response.trailers == (message.trailers ?? []), "\(id)")
    }

    private func checkOutcome(error: HTTPParseError?, incomplete: Bool, _ testCase: CorpusCase) {
        let expect = testCase.expect
        switch expect.outcome {
        case "reject":
            #expect(error != nil, "\(testCase.id) must be rejected")
            if let status = expect.status, let error {
                #expect(error.status == status, "\(testCase.id): \(error)")
            }
        case "accept":
            #expect(error == nil, "\(testCase.id) must be accepted: \(error.map(String.init(describing:)) ?? "")")
            if let atEOF = expect.atEOF, error == nil {
                #expect(incomplete == (atEOF == "incomplete"), "\(testCase.id) at EOF")
            }
            if testCase.expect.prefix != true, let atEOF = expect.atEOF, error == nil, atEOF == "idle" {
                #expect(!incomplete, "\(testCase.id) must end idle")
            }
        default:
            Issue.record("\(testCase.id): no decision recorded for this case")
        }
    }

    private func runRequestCases(_ cases: [CorpusCase]) {
        for testCase in cases {
            let whole = decodeRequests(testCase.bytes)
            let byteByByte = decodeRequests(testCase.bytes, chunkSize: 1)
            #expect(whole == byteByByte, "\(testCase.id): one byte at a time differs")
            if testCase.expect.headOnly == true {
                // The corpus has heads only: a Content-Length body is still awaited.
                let accepted = whole.error == nil
                switch testCase.expect.outcome {
                case "accept": #expect(accepted, "\(testCase.id) must be accepted: \(whole.error.map(String.init(describing:)) ?? "")")
                case "reject":
                    #expect(!accepted, "\(testCase.id) must be rejected")
                    if let status = testCase.expect.status, let error = whole.error {
                        #expect(error.status == status, "\(testCase.id): \(error)")
                    }
                default: Issue.record("\(testCase.id): no decision recorded (decoder says \(whole.error.map(String.init(describing:)) ?? "accept"))")
                }
                continue
            }
            checkOutcome(error: whole.error, incomplete: whole.incomplete, testCase)
            let expected = testCase.expect.messages ?? []
            if testCase.expect.prefix == true {
                #expect(whole.messages.count >= expected.count, "\(testCase.id): \(whole.messages)")
            } else if whole.error == nil || testCase.expect.outcome == "accept" {
                #expect(whole.messages.count == expected.count, "\(testCase.id): \(whole.messages)")
            }
            for (request, message) in zip(whole.messages, expected) { check(request, message, id: testCase.id) }
        }
    }

    @Test("llhttp request cases")
    func llhttpRequests() throws {
        let cases = try CorpusCase.load("llhttp-requests")
        #expect(cases.count > 100)
        runRequestCases(cases)
    }

    @Test("http-desync-guardian cases (every Severe case rejected)")
    func desyncGuardian() throws {
        let cases = try CorpusCase.load("desync-guardian")
        #expect(cases.count > 150)
        runRequestCases(cases)
    }

    @Test("llhttp response cases")
    func llhttpResponses() throws {
        let cases = try CorpusCase.load("llhttp-responses")
        #expect(cases.count > 50)
        for testCase in cases {
            let method = testCase.requestMethod.flatMap { HTTPRequest.Method($0) } ?? .get
            let methods = [HTTPRequest.Method](repeating: method, count: 4)
            let finish = testCase.expect.atEOF == "finish"
            let whole = decodeResponses(testCase.bytes, methods: methods, finish: finish)
            let byteByByte = decodeResponses(testCase.bytes, methods: methods, chunkSize: 1, finish: finish)
            #expect(whole == byteByByte, "\(testCase.id): one byte at a time differs")
            checkOutcome(error: whole.error, incomplete: whole.incomplete, testCase)
            let expected = testCase.expect.messages ?? []
            if testCase.expect.prefix == true {
                #expect(whole.messages.count >= expected.count, "\(testCase.id): \(whole.messages)")
            } else if whole.error == nil || testCase.expect.outcome == "accept" {
                #expect(whole.messages.count == expected.count, "\(testCase.id): \(whole.messages)")
            }
            for (response, message) in zip(whole.messages, expected) { check(response, message, id: testCase.id) }
        }
    }
}
