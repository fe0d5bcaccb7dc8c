// swift-tools-version:6.2
//
// idempotency-gateway: an HTTP/1.1 reverse proxy that makes any HTTP API safe to retry.
// Layers, lowest first (a module only imports the ones above it):
//   CSQLite, CZlib          C system libraries (libsqlite3-dev, zlib1g-dev)
//   CEventPoll              epoll(7) for the socket layer (libc headers)
//   GatewaySockets          POSIX sockets + Dispatch sources, no HTTP
//   GatewayHTTP             HTTP/1.1 parsing and serialising (RFC 9112), message types; no I/O
//   GatewayServer           the HTTP/1.1 server and the upstream client (sockets + HTTP)
//   GatewayStore            SQLite key store, zlib body compression
//   Idempotency             key parsing, fingerprint, Bloom filter, the exactly-once engine
//   GatewayBackends         the upstream HTTP client (keep-alive pool), reverse proxy and echo backends
//   IdempotencyGateway      the library product: configuration, wiring, admin, metrics, harness
//   idempotency-gateway     the executable (CLI)
import PackageDescription

/// Settings for every target of ours: Swift 6 mode, explicit `any`, warnings are errors.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    // Async functions run on their caller's executor (SE-0461): a request's code stays on its event loop
    // without an executor switch at every call.
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "idempotency-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "idempotency-gateway", targets: ["idempotency-gateway"]),
        .library(name: "IdempotencyGateway", targets: ["IdempotencyGateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-http-structured-headers", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        // swift-configuration's YAML reader rejects lists of objects; `idempotency.routes` is read with Yams.
        .package(url: "https://github.com/jpsim/Yams", "5.4.0"..<"7.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // epoll(7), which the Glibc module does not export (header only, part of libc).
        .systemLibrary(name: "CEventPoll"),
        .target(name: "GatewaySockets", dependencies: ["CEventPoll"], swiftSettings: strict),
        .target(
            name: "GatewayHTTP",
            dependencies: [.product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strict
        ),
        .target(
            name: "GatewayServer",
            dependencies: ["GatewaySockets", "GatewayHTTP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "GatewayStore",
            dependencies: ["CSQLite", "CZlib", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "Idempotency",
            dependencies: [
                "GatewayHTTP", "GatewayStore",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "RawStructuredFieldValues", package: "swift-http-structured-headers"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "GatewayBackends",
            dependencies: [
                "GatewayHTTP", "GatewaySockets",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "IdempotencyGateway",
            dependencies: [
                "GatewaySockets", "GatewayHTTP", "GatewayServer", "GatewayStore", "Idempotency", "GatewayBackends",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "idempotency-gateway",
            dependencies: [
                "IdempotencyGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Helpers shared by the test targets (raw-socket client, temp dirs, child processes).
        .target(
            name: "TestSupport",
            dependencies: [
                "GatewaySockets", "GatewayHTTP", .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "GatewayHTTPTests", dependencies: ["GatewayHTTP", "TestSupport"], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "GatewayServerTests", dependencies: ["GatewayServer", "GatewayBackends", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "GatewayStoreTests", dependencies: ["GatewayStore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "IdempotencyTests", dependencies: ["Idempotency", "GatewayStore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "IdempotencyGatewayTests",
            dependencies: ["IdempotencyGateway", "GatewayBackends", "GatewayStore", "TestSupport", "idempotency-gateway"],
            swiftSettings: strict
        ),
    ]
)
