// `idempotency-gateway keys show|delete|stats` on a store file written by a real gateway.
import Foundation
import IdempotencyGateway
import TestSupport
import Testing

@Suite("CLI: keys show, delete, stats")
struct KeysCommandTests {
    /// Fills a store through an embedded gateway (two unscoped keys and one scoped key), shuts the gateway down,
    /// and returns the store path and the scope of `Bearer alice`.
    static func filledStore(in directory: ScratchDirectory) async throws -> (path: String, scope: String) {
        let configuration = GatewayConfiguration.forTesting(in: directory)
        let scope = try await withGateway(configuration, backend: RecordingBackend()) { (gateway) async throws in
            #expect(try await post(port: gateway.port, key: "cli-order-1").status == 201)
            #expect(try await post(port: gateway.port, key: "cli-order-2").status == 201)
            let alice = [("Authorization", "Bearer alice")]
            #expect(try await post(port: gateway.port, key: "cli-order-1", headers: alice).status == 201)
            var fields = HTTPFields()
            fields[.authorization] = "Bearer alice"
            return gateway.engine.scope(of: fields)
        }
        return (configuration.store.path, scope)
    }

    @Test("keys show prints the record as JSON with its body; an unknown key exits 1")
    func show() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (store, scope) = try await Self.filledStore(in: directory)

        let shown = try await ChildProcess.run(["keys", "show", "cli-order-1", "--store", store], directory: directory.url)
        #expect(shown.exit == ChildProcess.Exit(status: 0, signalled: false), "\(shown.standardError)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(shown.standardOutput.utf8)) as? [String: Any])
        #expect(json["key"] as? String == "cli-order-1")
        #expect(json["scope"] as? String == "")
        #expect(json["state"] as? String == "completed")
        #expect(json["status"] as? Int == 201)
        #expect(json["body"] as? String == #"{"order":1,"bytes":13}"#)

        let scoped = try await ChildProcess.run(
            ["keys", "show", "cli-order-1", "--scope", scope, "--store", store], directory: directory.url)
        #expect(scoped.exit.status == 0)
        #expect(scoped.standardOutput.contains(#""body":"{\"order\":3,\"bytes\":13}""#))

        let missing = try await ChildProcess.run(["keys", "show", "nope", "--store", store], directory: directory.url)
        #expect(missing.exit == ChildProcess.Exit(status: 1, signalled: false))
        #expect(missing.standardOutput.isEmpty)
        #expect(missing.standardError.contains("error: no record for key 'nope'"))
    }

    @Test("keys list shows every record with its scope, and one scope's alone; keys show takes a quoted key")
    func list() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (store, scope) = try await Self.filledStore(in: directory)

        let all = try await ChildProcess.run(["keys", "list", "--store", store], directory: directory.url)
        #expect(all.exit == ChildProcess.Exit(status: 0, signalled: false), "\(all.standardError)")
        let rows = all.standardOutput.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.first == ["scope", "key", "state", "status", "created", "expires"])
        let records = rows.dropFirst().map { [$0[0], $0[1], $0[2], $0[3]] }
        #expect(records.count == 3)
        #expect(records.contains(["-", "cli-order-1", "completed", "201"]))
        #expect(records.contains(["-", "cli-order-2", "completed", "201"]))
        #expect(records.contains([scope, "cli-order-1", "completed", "201"]))

        // The listed scope is what `keys show --scope` takes; a key may be given as clients send it, quoted.
        let scoped = try await ChildProcess.run(["keys", "list", "--scope", scope, "--store", store], directory: directory.url)
        #expect(scoped.standardOutput.split(separator: "\n").count == 2)
        let shown = try await ChildProcess.run(
            ["keys", "show", "\"cli-order-1\"", "--scope", scope, "--store", store], directory: directory.url)
        #expect(shown.exit.status == 0)
        #expect(shown.standardOutput.contains(#""body":"{\"order\":3,\"bytes\":13}""#))

        // `-`, as listed, is the unscoped space.
        let unscoped = try await ChildProcess.run(["keys", "list", "--scope", "-", "--store", store], directory: directory.url)
        #expect(unscoped.standardOutput.split(separator: "\n").count == 3)
        let shownUnscoped = try await ChildProcess.run(
            ["keys", "show", "cli-order-2", "--scope", "-", "--store", store], directory: directory.url)
        #expect(shownUnscoped.exit.status == 0)

        let limited = try await ChildProcess.run(["keys", "list", "--limit", "1", "--store", store], directory: directory.url)
        #expect(limited.standardOutput.split(separator: "\n").count == 2)
    }

    @Test("keys delete reports each key and frees it; keys stats counts what is left")
    func deleteAndStats() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (store, _) = try await Self.filledStore(in: directory)

        let before = try await ChildProcess.run(["keys", "stats", "--store", store], directory: directory.url)
        #expect(before.exit.status == 0)
        #expect(before.standardOutput.contains("store:      \(store)"))
        #expect(before.standardOutput.contains("completed:  3"))
        #expect(before.standardOutput.contains("in_flight:  0"))

        let deleted = try await ChildProcess.run(
            ["keys", "delete", "cli-order-1", "never-stored", "--store", store], directory: directory.url)
        #expect(deleted.exit == ChildProcess.Exit(status: 0, signalled: false))
        #expect(deleted.standardOutput == "deleted cli-order-1\nnot-found never-stored\n")

        let after = try await ChildProcess.run(["keys", "stats", "--store", store], directory: directory.url)
        #expect(after.standardOutput.contains("completed:  2"))  // the scoped cli-order-1 is untouched
        let gone = try await ChildProcess.run(["keys", "show", "cli-order-1", "--store", store], directory: directory.url)
        #expect(gone.exit.status == 1)

        // A freed key is forwarded again by a gateway on the same store.
        let backend = RecordingBackend()
        try await withGateway(.forTesting(in: directory), backend: backend) { (gateway) async throws in
            #expect(try await post(port: gateway.port, key: "cli-order-1").header("Idempotent-Replayed") == nil)
            #expect(try await post(port: gateway.port, key: "cli-order-2").header("Idempotent-Replayed") == "true")
            #expect(backend.calls == 1)
        }
    }

    @Test("keys commands on a missing store file exit 1 without creating it")
    func missingStore() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let path = directory.path("absent.sqlite")
        for arguments in [["keys", "stats"], ["keys", "show", "k"], ["keys", "delete", "k"]] {
            let result = try await ChildProcess.run(arguments + ["--store", path], directory: directory.url)
            #expect(result.exit == ChildProcess.Exit(status: 1, signalled: false), "\(arguments)")
            #expect(result.standardError.contains("no key store at \(path)"))
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
