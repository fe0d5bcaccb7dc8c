import GatewayHTTP
import HTTPTypes
import Testing

/// Bytes from a "Latin-1 string": each Unicode scalar is one byte (how the fixtures store raw bytes).
func latin1Bytes(_ string: String) -> [UInt8] {
    string.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
}

/// A "Latin-1 string" from bytes.
func latin1String(_ bytes: some Sequence<UInt8>) -> String {
    var string = ""
    string.unicodeScalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
    return string
}

func fieldPairs(_ fields: HTTPFields) -> [[String]] {
    fields.map { field in [field.name.rawName, field.withUnsafeBytesOfValue { latin1String($0) }] }
}

/// One decoded request, reduced to comparable values. Body bytes from all `.body` events are joined,
/// so runs that feed bytes differently compare equal.
struct DecodedRequest: Equatable, CustomStringConvertible {
    var method: String
    var scheme: String?
    var authority: String?
    var path: String?
    var version: String
    var headers: [[String]]
    var keepAlive: Bool
    var expectsContinue: Bool
    var framing: BodyFraming
    var body: [UInt8] = []
    var trailers: [[String]] = []

    init(_ head: RequestHead) {
        method = head.request.method.rawValue
        scheme = head.request.scheme
        authority = head.request.authority
        path = head.request.path
        version = head.version == .http1_1 ? "1.1" : "1.0"
        headers = fieldPairs(head.request.headerFields)
        keepAlive = head.keepAlive
        expectsContinue = head.expectsContinue
        framing = head.framing
    }

    var description: String {
        "\(method) \(scheme ?? "")|\(authority ?? "-")|\(path ?? "") \(version) \(headers) body=\(latin1String(body).debugDescription) trailers=\(trailers)"
    }
}

/// Everything a request decoder produced for one input.
struct RequestRun: Equatable {
    var messages: [DecodedRequest] = []
    /// A message (or part of a head) was still open when the input ended.
    var incomplete = false
    var error: HTTPParseError?
    /// Events in order, for tests that care about them (".head", ".body", ".end"); not compared by `==`,
    /// since how body bytes are split depends on how they arrived.
    var events: [String] = []

    static func == (lhs: RequestRun, rhs: RequestRun) -> Bool {
        lhs.messages == rhs.messages && lhs.incomplete == rhs.incomplete && lhs.error == rhs.error
    }
}

/// Feeds `raw` to a request decoder `chunkSize` bytes at a time, draining events after each append. Decodes twice,
/// with and without ``HTTPRequestDecoder/rawHeads`` (materializing the raw heads), and expects the same outcome:
/// every test that decodes requests also checks that the byte path's heads are checked alike.
func decodeRequests(_ raw: [UInt8], chunkSize: Int = .max, limits: HTTPLimits = HTTPLimits()) -> RequestRun {
    let run = decodeRequests(raw, chunkSize: chunkSize, limits: limits, rawHeads: false)
    let viaRawHeads = decodeRequests(raw, chunkSize: chunkSize, limits: limits, rawHeads: true)
    #expect(run == viaRawHeads, "raw heads decode differently")
    return run
}

private func decodeRequests(_ raw: [UInt8], chunkSize: Int, limits: HTTPLimits, rawHeads: Bool) -> RequestRun {
    var decoder = HTTPRequestDecoder(limits: limits)
    decoder.rawHeads = rawHeads
    var run = RequestRun()
    var current: DecodedRequest?
    var offset = 0
    while true {
        do {
            while let event = try decoder.next() {
                switch event {
                case .head(let head):
                    current = DecodedRequest(head)
                    run.events.append(".head")
                case .rawHead(let head):
                    current = DecodedRequest(try head.materialize())
                    run.events.append(".head")
                case .body(let bytes):
                    current?.body.append(contentsOf: bytes)
                    run.events.append(".body")
                case .end(let trailers):
                    current?.trailers = fieldPairs(trailers)
                    if let message = current { run.messages.append(message) }
                    current = nil
                    run.events.append(".end")
                }
            }
        } catch {
            run.error = error
            return run
        }
        guard offset < raw.count else { break }
        let end = offset + min(chunkSize, raw.count - offset)
        raw[offset..<end].withUnsafeBytes { decoder.append($0) }
        offset = end
    }
    run.incomplete = current != nil || decoder.hasBufferedBytes
    if !run.incomplete { precondition(decoder.isIdle) }
    return run
}

/// One decoded response (or interim 1xx response), reduced to comparable values.
struct DecodedResponse: Equatable, CustomStringConvertible {
    var status: Int
    var reason: String
    var version: String
    var headers: [[String]]
    var keepAlive: Bool
    var framing: BodyFraming
    var informational = false
    var body: [UInt8] = []
    var trailers: [[String]] = []

    init(_ response: HTTPResponse, version: String, keepAlive: Bool, framing: BodyFraming) {
        status = response.status.code
        reason = response.status.reasonPhrase
        self.version = version
        headers = fieldPairs(response.headerFields)
        self.keepAlive = keepAlive
        self.framing = framing
    }

    var description: String {
        "\(version) \(status) \(reason.debugDescription) \(headers) body=\(latin1String(body).debugDescription)"
    }
}

struct ResponseRun: Equatable {
    var messages: [DecodedResponse] = []
    var incomplete = false
    var error: HTTPParseError?
}

/// Feeds `raw` to a response decoder; `methods` are announced with `expectResponse(to:)` first.
/// With `finish`, the peer is then treated as closed.
func decodeResponses(
    _ raw: [UInt8], methods: [HTTPRequest.Method] = [.get], chunkSize: Int = .max, finish: Bool = false
) -> ResponseRun {
    let run = decodeResponses(raw, methods: methods, chunkSize: chunkSize, finish: finish, rawHeads: false)
    let viaRawHeads = decodeResponses(raw, methods: methods, chunkSize: chunkSize, finish: finish, rawHeads: true)
    #expect(run == viaRawHeads, "raw heads decode differently")
    return run
}

private func decodeResponses(
    _ raw: [UInt8], methods: [HTTPRequest.Method], chunkSize: Int, finish: Bool, rawHeads: Bool
) -> ResponseRun {
    var decoder = HTTPResponseDecoder()
    decoder.rawHeads = rawHeads
    for method in methods { decoder.expectResponse(to: method) }
    var run = ResponseRun()
    var current: DecodedResponse?
    func handle(_ event: ResponseEvent) {
        switch event {
        case .informational(let response):
            var message = DecodedResponse(response, version: "1.1", keepAlive: true, framing: .none)
            message.informational = true
            run.messages.append(message)
        case .head(let head):
            current = DecodedResponse(
                head.response, version: head.version == .http1_1 ? "1.1" : "1.0", keepAlive: head.keepAlive,
                framing: head.framing
            )
        case .rawHead(let raw):
            // Materializing a head the decoder accepted cannot fail.
            guard let head = try? raw.materialize() else {
                Issue.record("a raw response head did not materialize")
                return
            }
            current = DecodedResponse(
                head.response, version: head.version == .http1_1 ? "1.1" : "1.0", keepAlive: head.keepAlive,
                framing: head.framing
            )
        case .body(let bytes):
            current?.body.append(contentsOf: bytes)
        case .end(let trailers):
            current?.trailers = fieldPairs(trailers)
            if let message = current { run.messages.append(message) }
            current = nil
        }
    }
    var offset = 0
    while true {
        do {
            while let event = try decoder.next() { handle(event) }
        } catch {
            run.error = error
            return run
        }
        guard offset < raw.count else { break }
        let end = offset + min(chunkSize, raw.count - offset)
        raw[offset..<end].withUnsafeBytes { decoder.append($0) }
        offset = end
    }
    if finish {
        do {
            while let event = try decoder.finish() { handle(event) }
        } catch {
            run.error = error
            return run
        }
    }
    run.incomplete = current != nil || decoder.hasBufferedBytes
    return run
}
