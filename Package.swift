// swift-tools-version: 6.0
import PackageDescription

/// The expensive `_checkInvariants()` bodies (see Docs/design.md) compile in debug builds, so
/// `swift test` exercises them, and out of release builds. Force them into a release build with
/// `-Xswiftc -DNHGD_CHECK_INVARIANTS`; the benchmark executable warns when they are on.
let invariantFlag: [SwiftSetting] = [.define("NHGD_CHECK_INVARIANTS", .when(configuration: .debug))]

let package = Package(
    name: "NaturalHypergradient",
    products: [
        .library(name: "NaturalHypergradient", targets: ["NaturalHypergradient"]),
        .executable(name: "nhgd", targets: ["nhgd"]),
        .executable(name: "nhgd-bench", targets: ["nhgd-bench"]),
        // The layers the MPI package (Distributed/Package.swift) builds on.
        .library(name: "NHGDLinearAlgebra", targets: ["NHGDLinearAlgebra"]),
        .library(name: "NHGDSketches", targets: ["NHGDSketches"]),
        .library(name: "NHGDBilevel", targets: ["NHGDBilevel"]),
    ],
    targets: [
        // Layer 0: C bindings.
        .systemLibrary(
            name: "CLAPACK",
            pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev", "libopenblas-dev"])]
        ),
        // Layer 1: dense kernels and the low-rank-plus-diagonal operator.
        .target(name: "NHGDLinearAlgebra", dependencies: ["CLAPACK"], swiftSettings: invariantFlag),
        // Layer 2: streaming Fisher sketches.
        .target(name: "NHGDSketches", dependencies: ["NHGDLinearAlgebra"], swiftSettings: invariantFlag),
        // Layer 3: bilevel problems composed from their terms, estimators and the optimiser.
        .target(name: "NHGDBilevel", dependencies: ["NHGDLinearAlgebra", "NHGDSketches"], swiftSettings: invariantFlag),
        // Layer 4: the embedded data sets, splits, corruption, standardisation, problem
        // recipes, reference models and safe step sizes, shared by the tools.
        .target(
            name: "NHGDExperiments",
            dependencies: ["NHGDLinearAlgebra", "NHGDBilevel"],
            resources: [.copy("Resources")],
            swiftSettings: invariantFlag
        ),
        // Umbrella: re-exports the numerical layers and the experiments.
        .target(name: "NaturalHypergradient",
                dependencies: ["NHGDLinearAlgebra", "NHGDSketches", "NHGDBilevel", "NHGDExperiments"]),
        // Layer 5: the tools. Reporting (arguments, tables, CSV/JSON, SVG) has no numerics.
        .target(name: "NHGDReporting"),
        .target(name: "NHGDCommand", dependencies: ["NaturalHypergradient", "NHGDReporting"]),
        .executableTarget(name: "nhgd", dependencies: ["NHGDCommand"]),
        .executableTarget(
            name: "nhgd-bench",
            dependencies: ["NaturalHypergradient", "NHGDReporting", "CLAPACK"],
            path: "Benchmarks/nhgd-bench"
        ),

        // Test support: the property-based harness (its own tests below).
        .target(name: "NHGDTestSupport", dependencies: ["NHGDLinearAlgebra"], path: "Tests/NHGDTestSupport"),
        .testTarget(name: "NHGDTestSupportTests", dependencies: ["NHGDTestSupport"]),
        .testTarget(name: "NHGDLinearAlgebraTests", dependencies: ["NHGDLinearAlgebra", "NHGDTestSupport"]),
        .testTarget(name: "NHGDSketchesTests", dependencies: ["NHGDSketches", "NHGDTestSupport"]),
        .testTarget(name: "NHGDBilevelTests", dependencies: ["NHGDBilevel", "NaturalHypergradient", "NHGDTestSupport"]),
        .testTarget(name: "NHGDExperimentsTests", dependencies: ["NHGDExperiments", "NHGDTestSupport"]),
        .testTarget(name: "NHGDReportingTests", dependencies: ["NHGDReporting"]),
        .testTarget(name: "NHGDCommandTests", dependencies: ["NHGDCommand", "nhgd", "NHGDTestSupport"]),
        .testTarget(name: "NHGDBenchmarkTests", dependencies: ["nhgd-bench"]),
    ]
)
