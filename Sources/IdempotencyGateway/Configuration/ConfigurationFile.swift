// Reading the YAML configuration file.
//
// The scalar and list keys are served by swift-configuration's `YAMLSnapshot`. Yams is used directly
// for two things swift-configuration cannot do: `idempotency.routes` (a list of objects, which
// `YAMLSnapshot` rejects with "non-scalar value in array") and listing the keys present in the file
// so that unknown keys (typos) are reported. `FileProvider<YAMLSnapshot>` is not used because it would
// parse the file as a whole and fail on the routes list; instead the routes and unknown keys are cut
// from the parsed document and the rest is handed to `YAMLSnapshot` through ``SnapshotProvider``.
import Configuration
import Foundation
import Yams

/// The parsed configuration file: its known keys as a provider, the raw route entries and the unknown keys.
struct ConfigurationFile {
    /// The path as given.
    let path: String
    /// The known scalar/list keys present (non-null) in the file, with their values for error messages.
    let values: [String: String]
    /// Serves ``values`` to a `ConfigReader`.
    let provider: SnapshotProvider
    /// The `idempotency.routes` node, if present.
    let routes: Node?
    /// Keys present in the file that the gateway does not know.
    let unknownKeys: [String]
    /// Known keys given an object where a value was expected (`listen: {host: …}`).
    let problems: [ConfigurationProblem]

    /// Reads and parses the file at `path`; throws ``ConfigurationError`` naming the file when it is missing
    /// or not valid YAML.
    init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(problems: [
                ConfigurationProblem(key: "config file \"\(path)\"", reason: "cannot be read (missing or not a file)")
            ])
        }
        let text = String(decoding: data, as: UTF8.self)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(problems: [
                ConfigurationProblem(key: "config file \"\(path)\"", reason: "malformed YAML: \(error)")
            ])
        }
        var collector = Collector()
        let kept: Node.Mapping
        if let root, root.null == nil {
            guard let mapping = root.mapping else {
                throw ConfigurationError(problems: [
                    ConfigurationProblem(key: "config file \"\(path)\"", reason: "the top level must be a mapping of keys")
                ])
            }
            kept = collector.filter(mapping, prefix: [])
        } else {
            kept = Node.Mapping([])  // an empty or null document configures nothing
        }
        self.values = collector.values
        self.routes = collector.routes
        self.unknownKeys = collector.unknown
        self.problems = collector.problems
        let yaml = kept.isEmpty ? "{}" : try Yams.serialize(node: .mapping(kept))
        let bytes = Array(yaml.utf8)
        let snapshot = try YAMLSnapshot(
            data: bytes.span.bytes,
            providerName: "config file \(path)",
            parsingOptions: .init(secretsSpecifier: .specific(["admin.token"]))
        )
        self.provider = SnapshotProvider(snapshot: snapshot)
    }

    /// Walks the document, keeping known keys and sorting out routes, unknown keys and nulls.
    private struct Collector {
        var values: [String: String] = [:]
        var routes: Node?
        var unknown: [String] = []
        var problems: [ConfigurationProblem] = []

        private static let known = Set(ConfigurationKeys.all)
        private static let prefixes = Set(ConfigurationKeys.all.flatMap { key in
            let parts = key.split(separator: ".")
            return (1..<max(parts.count, 1)).map { parts.prefix($0).joined(separator: ".") }
        })

        mutating func filter(_ mapping: Node.Mapping, prefix: [String]) -> Node.Mapping {
            var kept: [(Node, Node)] = []
            for (keyNode, value) in mapping {
                guard let name = keyNode.scalar?.string else {
                    unknown.append((prefix + ["<non-string key>"]).joined(separator: "."))
                    continue
                }
                let path = prefix + [name]
                let dotted = path.joined(separator: ".")
                if value.null != nil { continue }  // `key:` or `key: null` means "not set"
                if dotted == ConfigurationKeys.routes {
                    routes = value
                } else if Self.known.contains(dotted) {
                    if value.mapping != nil {
                        problems.append(ConfigurationProblem(key: dotted, reason: "expected a value, not an object"))
                    } else {
                        values[dotted] = Self.display(value)
                        kept.append((keyNode, value))
                    }
                } else if Self.prefixes.contains(dotted) {
                    guard let child = value.mapping else {
                        problems.append(ConfigurationProblem(
                            key: dotted, value: Self.display(value), reason: "expected an object of \(dotted).* keys"))
                        continue
                    }
                    let filtered = filter(child, prefix: path)
                    if !filtered.isEmpty { kept.append((keyNode, .mapping(filtered))) }
                } else {
                    unknown.append(dotted)
                }
            }
            return Node.Mapping(kept)
        }

        /// The value as written, for error messages: `10x` or `[a, b]`.
        private static func display(_ node: Node) -> String {
            if let sequence = node.sequence {
                return "[" + sequence.map { $0.scalar?.string ?? "…" }.joined(separator: ", ") + "]"
            }
            return node.scalar?.string ?? "…"
        }
    }
}

/// A `ConfigProvider` serving one fixed snapshot (the filtered YAML file).
struct SnapshotProvider: ConfigProvider {
    let snapshotValue: YAMLSnapshot

    init(snapshot: YAMLSnapshot) {
        self.snapshotValue = snapshot
    }

    var providerName: String { snapshotValue.providerName }

    func value(forKey key: AbsoluteConfigKey, type: ConfigType) throws -> LookupResult {
        try snapshotValue.value(forKey: key, type: type)
    }

    func fetchValue(forKey key: AbsoluteConfigKey, type: ConfigType) async throws -> LookupResult {
        try value(forKey: key, type: type)
    }

    nonisolated(nonsending) func watchValue<Return: ~Copyable>(
        forKey key: AbsoluteConfigKey,
        type: ConfigType,
        updatesHandler: nonisolated(nonsending) (ConfigUpdatesAsyncSequence<Result<LookupResult, any Error>, Never>) async throws -> Return
    ) async throws -> Return {
        try await watchValueFromValue(forKey: key, type: type, updatesHandler: updatesHandler)
    }

    func snapshot() -> any ConfigSnapshot { snapshotValue }

    nonisolated(nonsending) func watchSnapshot<Return: ~Copyable>(
        updatesHandler: nonisolated(nonsending) (ConfigUpdatesAsyncSequence<any ConfigSnapshot, Never>) async throws -> Return
    ) async throws -> Return {
        try await watchSnapshotFromSnapshot(updatesHandler: updatesHandler)
    }
}
