// swift-tools-version:6.1
import PackageDescription

/// Warden: door controller (`wardend`), installer/manager CLI (`wardenctl`) and the shared domain core.
///
/// Layering (see docs/architecture.md): C system libraries -> one thin wrapper module each -> controller;
/// `WardenCore` has no I/O and no C dependency so policy and door logic are tested by feeding values.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let x509: Target.Dependency = .product(name: "X509", package: "swift-certificates")
let asn1: Target.Dependency = .product(name: "SwiftASN1", package: "swift-asn1")

let package = Package(
    name: "warden",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wardend", targets: ["wardend"]),
        .executable(name: "wardenctl", targets: ["wardenctl"]),
        .executable(name: "warden-gpio", targets: ["warden-gpio"]),
        .executable(name: "warden-cloud", targets: ["warden-cloud"]),
        .library(name: "WardenWire", targets: ["WardenWire"]),
        .library(name: "WardenCore", targets: ["WardenCore"]),
        .library(name: "WardenProtocol", targets: ["WardenProtocol"]),
        .library(name: "WardenAuthority", targets: ["WardenAuthority"]),
        .library(name: "WardenKey", targets: ["WardenKey"]),
        .library(name: "WardenController", targets: ["WardenController"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.4.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.0"),
    ],
    targets: [
        // C system libraries: each is imported by exactly one wrapper module below.
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CBluetooth", pkgConfig: "bluez", providers: [.apt(["libbluetooth-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        // sd-bus, for bluetoothd's D-Bus advertising API; used only by BlueZ (which wraps Bluetooth as a whole).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // libcrypto, for the board's X.509 (its broker certificate and renewal requests); used only by OpenSSLX509.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // The one home of blocking POSIX I/O: sockets, listeners, the epoll reactor, detached threads.
        .target(name: "CEpoll"),
        .target(name: "POSIXIO", dependencies: ["CEpoll"], swiftSettings: strict),
        .target(name: "GPIOD", dependencies: ["CGPIOD", "POSIXIO"], swiftSettings: strict),
        .target(name: "BlueZ", dependencies: ["CBluetooth", "CSystemd", "POSIXIO"], swiftSettings: strict),
        .target(name: "Mosquitto", dependencies: ["CMosquitto", "POSIXIO"], swiftSettings: strict),
        .target(name: "OpenSSLX509", dependencies: ["COpenSSL"], swiftSettings: strict),

        // Wire contracts other processes read (status, audit kinds, deny and alarm reasons, access-list updates,
        // signed commands) and the one JWS verifier: board and cloud both import it. No I/O.
        .target(name: "WardenWire", dependencies: [crypto], swiftSettings: strict),
        // The domain core: credentials, policy, schedules, time, audit records, the door as a value. No I/O.
        .target(name: "WardenCore", dependencies: ["WardenWire", crypto], swiftSettings: strict),
        // The key-presentation protocol, both sides' state machines: swift-crypto only (an iOS app embeds it).
        .target(name: "WardenProtocol", dependencies: [crypto], swiftSettings: strict),
        // The phone-facing API on top of the protocol: nothing Linux-only.
        .target(name: "WardenKey", dependencies: ["WardenProtocol", crypto], swiftSettings: strict),
        // The authority's side: issuing credentials, signing updates and commands (jwt-kit). Never linked by wardend.
        .target(
            name: "WardenAuthority",
            dependencies: ["WardenWire", crypto, .product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: strict
        ),
        .target(
            name: "WardenStore",
            dependencies: ["WardenCore", "WardenWire", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .target(
            name: "WardenController",
            dependencies: [
                "WardenCore", "WardenWire", "WardenProtocol", "WardenStore", "GPIOD", "BlueZ", "POSIXIO", crypto,
                .product(name: "Yams", package: "Yams"), logging, .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The board's MQTT sync (docs/mqtt.md): audit upload acknowledged after the cloud's commit, signed access-list
        // updates, signed commands and signed time. One more service in wardend; no cloud code.
        .target(
            name: "WardenSync",
            dependencies: [
                "WardenController", "WardenStore", "WardenCore", "WardenWire", "Mosquitto", "OpenSSLX509", "POSIXIO", crypto,
                logging,
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // wardend's command line: links the board's modules only (no jwt-kit, no cloud).
        .target(
            name: "WardendCLI",
            dependencies: [
                "WardenController", "WardenSync", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // The cloud: the MQTT consumer into PostgreSQL, the org authority that signs updates, commands and time, and
        // the operations (grant, revoke, unlock, lockdown, audit) the HTTP API exposes. Never links door code.
        .target(
            name: "WardenCloud",
            dependencies: [
                "WardenWire", "WardenCore", "WardenProtocol", "WardenAuthority", "Mosquitto", "POSIXIO", crypto, logging,
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                x509, asn1,
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "WardenCloudCLI",
            dependencies: [
                "WardenCloud", "WardenWire", logging, .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // Many simulated boards in one process on wardend's own controller and sync code (`wardenctl fleet-sim`).
        .target(
            name: "WardenFleet",
            dependencies: [
                "WardenSync", "WardenController", "WardenStore", "WardenCore", "WardenWire", "Mosquitto", logging,
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // wardenctl: installer, operator and developer commands (the dev authority included).
        .target(
            name: "WardenCLI",
            dependencies: [
                "WardenCore", "WardenWire", "WardenProtocol", "WardenKey", "WardenAuthority", "WardenStore",
                "WardenController", "WardenFleet", "BlueZ", "Mosquitto", "POSIXIO", crypto, logging, x509, asn1,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "wardend", dependencies: ["WardendCLI"], swiftSettings: strict),
        .executableTarget(name: "wardenctl", dependencies: ["WardenCLI"], swiftSettings: strict),
        .executableTarget(name: "warden-gpio", dependencies: ["GPIOD"], swiftSettings: strict),
        .executableTarget(name: "warden-cloud", dependencies: ["WardenCloudCLI"], swiftSettings: strict),
        .executableTarget(
            name: "warden-bench",
            dependencies: [
                "WardenCore", "WardenWire", "WardenProtocol", "WardenKey", "WardenAuthority", "WardenStore", "WardenController",
                crypto, logging,
                // Only to measure the old parse path beside the new one.
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Benchmarks/WardenBench",
            swiftSettings: strict
        ),

        // jwt-kit here is the test oracle for CredentialParser (the decision path no longer parses with it).
        .testTarget(
            name: "WardenCoreTests",
            dependencies: ["WardenCore", "WardenWire", "WardenAuthority", crypto, .product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: strict),
        .testTarget(
            name: "WardenStoreTests",
            dependencies: [
                "WardenStore", "WardenCore", "WardenWire", "WardenAuthority", crypto,
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "WardenControllerTests",
            dependencies: [
                "WardenController", "WardenCore", "WardenWire", "WardenProtocol", "WardenAuthority", "WardenStore",
                "WardenCLI", "WardenTestSupport", crypto,
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ProtocolTests",
            dependencies: [
                "WardenProtocol", "WardenController", "WardenCore", "WardenAuthority", crypto,
            ],
            resources: [.copy("Vectors")], swiftSettings: strict),
        // Reads Package.swift and every import: fails when a layer rule is broken (docs/architecture.md).
        .testTarget(name: "LayerTests", swiftSettings: strict),
        .testTarget(name: "POSIXIOTests", dependencies: ["POSIXIO"], swiftSettings: strict),
        .testTarget(
            name: "HardwareTests", dependencies: ["GPIOD", "BlueZ", "Mosquitto", "WardenTestSupport"],
            swiftSettings: strict),
        // Real servers for tests (mosquitto, PostgreSQL 15, any daemon as a process), shared by the suites.
        .target(name: "WardenTestSupport", path: "Tests/Support", swiftSettings: strict),
        // The MQTT sync and the cloud: pure parts fed with values, then real mosquitto, PostgreSQL, wardend and
        // warden-cloud processes end to end.
        .testTarget(
            name: "SyncTests",
            dependencies: [
                "WardenSync", "WardenCloud", "WardenController", "WardenStore", "WardenCore", "WardenWire",
                "WardenAuthority", "WardenKey", "WardenProtocol", "Mosquitto", "OpenSSLX509", "WardenTestSupport", crypto,
                logging, .product(name: "PostgresNIO", package: "postgres-nio"), x509, asn1,
            ],
            swiftSettings: strict),
        // The managers' API in process (Hummingbird's router test client) on real PostgreSQL and mosquitto.
        .testTarget(
            name: "CloudAPITests",
            dependencies: [
                "WardenCloud", "WardenCore", "WardenWire", "WardenTestSupport", "Mosquitto", crypto, logging,
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                "WardenProtocol", x509, asn1,
            ],
            swiftSettings: strict),
    ]
)
