// swift-tools-version:6.1
// The `factorconv` command-line tool, a package of its own so that the library package
// (../Package.swift) depends on nothing: a package that uses the FactorConv library never
// fetches or builds swift-argument-parser, which only this tool needs.
//
// Build: `make cli` (release, Swift runtime linked statically, scratch path .build-cli), or
// `swift build --package-path CLI -c release --static-swift-stdlib`. Linux only, like the library.
import PackageDescription

let package = Package(
    name: "factorconv-cli",
    products: [
        // Named factorconv-cli: a product named factorconv is already the library's (libfactorconv.so)
        // in this package graph. `make cli` copies it to .build-cli/factorconv; make install
        // installs it as PREFIX/bin/factorconv.
        .executable(name: "factorconv-cli", targets: ["FactorConvCLI"]),
    ],
    dependencies: [
        .package(name: "FactorConv", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "FactorConvCLI",
            dependencies: [
                .product(name: "FactorConv", package: "FactorConv"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
    ]
)
