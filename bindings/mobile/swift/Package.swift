// swift-tools-version:5.9
// Swift package of Burgee's mobile SDK. scripts/sdk-mobile assembles the package around this
// manifest in $CARGO_TARGET_DIR/burgee-mobile/swift/BurgeeMobile: Sources/BurgeeMobile/ holds
// the generated BurgeeMobile.swift, and BurgeeMobileFFI.xcframework (static libburgee_mobile.a
// per platform with BurgeeMobileFFI.h and module.modulemap) is built on a Mac as
// bindings/mobile/README.md shows.
import PackageDescription

let package = Package(
    name: "BurgeeMobile",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "BurgeeMobile", targets: ["BurgeeMobile"]),
    ],
    targets: [
        .binaryTarget(name: "BurgeeMobileFFI", path: "BurgeeMobileFFI.xcframework"),
        .target(
            name: "BurgeeMobile",
            dependencies: ["BurgeeMobileFFI"],
            path: "Sources/BurgeeMobile"
        ),
    ]
)
