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

let package = Package(
    name: "warden",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wardend", targets: ["wardend"]),
        .executable(name: "wardenctl", targets: ["wardenctl"]),
        .executable(name: "warden-gpio", targets: ["warden-gpio"]),
        .library(name: "WardenCore", targets: ["WardenCore"]),
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
    ],
    targets: [
        // C system libraries: each is imported by exactly one wrapper module below.
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CBluetooth", pkgConfig: "bluez", providers: [.apt(["libbluetooth-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        // sd-bus, for bluetoothd's D-Bus advertising API; used only by BlueZ (which wraps Bluetooth as a whole).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),

        .target(name: "GPIOD", dependencies: ["CGPIOD"], swiftSettings: strict),
        .target(name: "BlueZ", dependencies: ["CBluetooth", "CSystemd"], swiftSettings: strict),
        .target(name: "Mosquitto", dependencies: ["CMosquitto"], swiftSettings: strict),

        .target(
            name: "WardenCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strict
        ),
        // The phone side of the key-presentation protocol: swift-crypto only, nothing Linux-only (an iOS app embeds it).
        .target(name: "WardenKey", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .target(
            name: "WardenStore",
            dependencies: [
                "WardenCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "WardenController",
            dependencies: [
                "WardenCore", "WardenKey", "WardenStore", "GPIOD", "BlueZ", "Mosquitto",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "WardenCLI",
            dependencies: [
                "WardenCore", "WardenKey", "WardenStore", "WardenController", "BlueZ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "wardend", dependencies: ["WardenCLI"], swiftSettings: strict),
        .executableTarget(name: "wardenctl", dependencies: ["WardenCLI"], swiftSettings: strict),
        .executableTarget(name: "warden-gpio", dependencies: ["GPIOD"], swiftSettings: strict),
        .executableTarget(
            name: "warden-bench",
            dependencies: [
                "WardenCore", "WardenStore", "WardenController", .product(name: "Logging", package: "swift-log"),
                // Only to measure the old parse path beside the new one.
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Benchmarks/WardenBench",
            swiftSettings: strict
        ),

        // jwt-kit here is the test oracle for CredentialParser (the decision path no longer parses with it).
        .testTarget(
            name: "WardenCoreTests", dependencies: ["WardenCore", .product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: strict),
        .testTarget(name: "WardenStoreTests", dependencies: ["WardenStore", "WardenCore"], swiftSettings: strict),
        .testTarget(
            name: "WardenControllerTests",
            dependencies: ["WardenController", "WardenCore", "WardenKey", "WardenStore", "WardenCLI"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ProtocolTests", dependencies: ["WardenKey", "WardenController", "WardenCore", "WardenStore"],
            resources: [.copy("Vectors")], swiftSettings: strict),
        .testTarget(name: "HardwareTests", dependencies: ["GPIOD", "BlueZ", "Mosquitto"], swiftSettings: strict),
    ]
)
