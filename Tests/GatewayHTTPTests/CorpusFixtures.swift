import Foundation

/// One case from the JSON fixtures written by scripts/fixtures/generate_http_fixtures.py.
struct CorpusCase: Decodable, Sendable {
    struct Message: Decodable, Sendable {
        var method: String?
        var target: String?
        var host: String?
        var status: Int?
        var reason: String?
        var version: String
        var headers: [[String]]
        var body: String
        var trailers: [[String]]?
    }

    struct Expectation: Decodable, Sendable {
        /// "accept", "reject" or (desync-guardian Ambiguous cases without a decision) "undecided".
        var outcome: String
        var status: Int?
        var messages: [Message]?
        var atEOF: String?
        var headOnly: Bool?
        /// The expected messages are only the first ones decoded (llhttp stopped where we go on).
        var prefix: Bool?
    }

    var id: String
    var name: String
    var kind: String
    var raw: String
    var requestMethod: String?
    var differs: String?
    var expect: Expectation

    var bytes: [UInt8] { latin1Bytes(raw) }

    static func load(_ file: String) throws -> [CorpusCase] {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(file)", withExtension: "json") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try JSONDecoder().decode([CorpusCase].self, from: Data(contentsOf: url))
    }
}
