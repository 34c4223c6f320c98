// swift-tools-version: 6.0
import Foundation
import PackageDescription

// The MPI part of NaturalHypergradient, a package of its own so that the root package builds
// and tests without MPI installed (Docs/distributed.md). It depends on the root package by
// path; SwiftPM names a path dependency after its directory, so the name is read from the
// checkout rather than written here.
let rootDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let root = rootDirectory.lastPathComponent

let invariantFlag: [SwiftSetting] = [.define("NHGD_CHECK_INVARIANTS", .when(configuration: .debug))]

let package = Package(
    name: "NHGDDistributed",
    products: [
        .library(name: "NHGDDistributed", targets: ["NHGDDistributed"]),
        .executable(name: "nhgd-distributed-check", targets: ["nhgd-distributed-check"]),
        .executable(name: "nhgd-distributed-bench", targets: ["nhgd-distributed-bench"]),
    ],
    dependencies: [.package(path: "..")],
    targets: [
        // Layer 0: Open MPI's C API (Debian's libopenmpi-dev, pkg-config `ompi-c`) …
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // … and the handles Swift cannot import (MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM are macros).
        .target(name: "CMPIShim", dependencies: ["CMPI"]),
        // The `Communicator` over MPI (the numerical layers never import MPI).
        .target(
            name: "NHGDDistributed",
            dependencies: ["CMPI", "CMPIShim", .product(name: "NHGDLinearAlgebra", package: root)],
            swiftSettings: invariantFlag
        ),
        // The distributed property checks, run under `mpirun -np 1, 2, 3` by `make test`.
        .executableTarget(
            name: "nhgd-distributed-check",
            dependencies: [
                "NHGDDistributed",
                .product(name: "NHGDLinearAlgebra", package: root),
                .product(name: "NHGDSketches", package: root),
                .product(name: "NHGDBilevel", package: root),
            ],
            swiftSettings: invariantFlag
        ),
        // The `distributed` benchmark cell (bytes per rank against the model, compute against
        // communication time, memory per rank), run under mpirun by `make bench-distributed`.
        .executableTarget(
            name: "nhgd-distributed-bench",
            dependencies: [
                "NHGDDistributed",
                .product(name: "NHGDLinearAlgebra", package: root),
                .product(name: "NHGDSketches", package: root),
            ]
        ),
    ]
)
