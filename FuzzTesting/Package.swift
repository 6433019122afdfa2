// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for every parser a peer can reach (docs/testing.md). Built by scripts/fuzz with
// `-sanitize=fuzzer,address -parse-as-library`; kept out of the main package so normal builds stay plain.
let package = Package(
    name: "warden-fuzz",
    platforms: [.macOS(.v15)],
    // "warden" is a symlink to the repository root, so the package identity is "warden" in any checkout.
    dependencies: [.package(path: "warden"), .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "FuzzFrame", dependencies: ["CFuzzerDriver", .product(name: "WardenProtocol", package: "warden")]),
        // The lock side links the protocol module alone: what a peer reaches before any door code.
        .executableTarget(name: "FuzzLockSession", dependencies: ["CFuzzerDriver", .product(name: "WardenProtocol", package: "warden"), .product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(
            name: "FuzzPhoneSession",
            dependencies: ["CFuzzerDriver", .product(name: "WardenProtocol", package: "warden"), .product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(
            name: "FuzzCredential",
            dependencies: [
                "CFuzzerDriver", .product(name: "WardenCore", package: "warden"), .product(name: "WardenWire", package: "warden"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
    ]
)
