// swift-tools-version:6.1
// FactorConv: factorized N-D convolutions (CP, Tucker, tensor-train) with a C ABI.
//
// Layout (numerics below, layer above, a thin ABI shim, bindings outside):
//   FactorConvBLAS         OpenBLAS + LAPACKE loaded at run time (picks fast kernels first)
//   FactorConvKernels      hand-written AVX-512 kernels (packed-panel GEMM, Winograd output transform)
//   FactorConvForkGate     a tiny C target: the fork gate that keeps the library's locks fork-safe
//   FactorConvNumerics     Tensor, BLAS/LAPACK wrappers, convolution kernels, decompositions
//   FactorConv             the layer: ranks, factorized tensors, FactorizedConv (native Swift API)
//   FactorConvErrorState   a tiny C target: the thread-local last-error buffer of the C ABI
//   FactorConvC            `@c @implementation` exports of include/factorconv.h -> libfactorconv.so
//   FactorConvTestSupport  (tests only) golden-vector loader and plain-loop references
//
// The library depends on no other package: the `factorconv` command-line tool, which uses
// swift-argument-parser, is a package of its own (CLI/Package.swift). Linux only; OpenBLAS with
// LAPACKE is loaded at run time (Sources/FactorConvBLAS). Version tags are MAJOR.MINOR.PATCH,
// FCONV_VERSION_STRING of include/factorconv.h.
import PackageDescription

let package = Package(
    name: "FactorConv",
    products: [
        .library(name: "FactorConv", targets: ["FactorConv"]),
        .library(name: "factorconv", type: .dynamic, targets: ["FactorConvC"]),
    ],
    targets: [
        .target(name: "FactorConvBLAS", dependencies: ["FactorConvForkGate"], linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("m")]),
        .systemLibrary(name: "CFactorConvABI", path: "include"),
        .target(name: "FactorConvKernels"),
        .target(name: "FactorConvForkGate"),
        .target(name: "FactorConvNumerics", dependencies: ["FactorConvBLAS", "FactorConvKernels", "FactorConvForkGate"]),
        .target(name: "FactorConv", dependencies: ["FactorConvNumerics", "CFactorConvABI"]),
        .target(name: "FactorConvErrorState"),
        .target(
            name: "FactorConvC",
            dependencies: ["FactorConv", "CFactorConvABI", "FactorConvErrorState"],
            exclude: ["exports.map"]),
        // Benchmark of the Swift dense convolution (Benchmarks/bench_dense.py compares with torch).
        .executableTarget(name: "ConvBench", dependencies: ["FactorConv"], path: "Benchmarks/ConvBench"),
        .executableTarget(name: "DecompositionBench", dependencies: ["FactorConvNumerics"], path: "Benchmarks/DecompositionBench"),
        // Test-only helpers: the golden-vector loader and plain-loop references.
        .target(name: "FactorConvTestSupport", dependencies: ["FactorConvNumerics"], path: "Tests/Support"),
        .testTarget(
            name: "FactorConvNumericsTests", dependencies: ["FactorConvNumerics", "FactorConvTestSupport"]),
        .testTarget(name: "FactorConvTests", dependencies: ["FactorConv", "FactorConvTestSupport"]),
        // Tests of the C boundary's internals through its exports (lock counts, option parsing).
        .testTarget(name: "FactorConvCTests", dependencies: ["FactorConvC", "CFactorConvABI", "FactorConvTestSupport"]),
    ]
)
