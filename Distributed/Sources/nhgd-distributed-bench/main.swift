// nhgd-distributed-bench: one cell of the `distributed` benchmark (issue 13), run under
// `mpirun -np R` (`make bench-distributed` runs R = 1, 2, 4). Rank 0 prints one table row.
//
// The cell is the communication pattern of NHGD's data-parallel inner loop with the
// parameter-sharded sketch (Docs/distributed.md): per outer iteration, T steps, each of which
// sums every rank's p×s combination block by a reduce-scatter (each rank receives its p/R rows)
// and ingests those rows into its shard of a rank-ℓ FD sketch; then one estimate (the in-place
// Woodbury factorisation and a solve). The per-rank blocks are synthetic (a fixed low-rank part
// with random coefficients plus noise): the cell measures the sketch and the communication,
// not a problem's gradients.
//
//   nhgd-distributed-bench [--dimension p] [--rank ℓ] [--steps T] [--columns s] [--outer N] [--quick]
import Foundation
import NHGDDistributed
import NHGDLinearAlgebra
import NHGDSketches

let world: MPICommunicator
do { world = try MPIEnvironment.world() } catch {
    FileHandle.standardError.write(Data("nhgd-distributed-bench: \(error)\n".utf8))
    exit(2)
}

var options = (p: 1_000_000, rank: 64, steps: 50, columns: 8, outer: 3)
var arguments = Array(CommandLine.arguments.dropFirst())
while let flag = arguments.first {
    arguments.removeFirst()
    if flag == "--quick" { options.p = 100_000; options.outer = 2; continue }
    guard let value = arguments.first.flatMap({ Int($0) }), value > 0 else {
        if world.rank == 0 { FileHandle.standardError.write(Data("nhgd-distributed-bench: \(flag) needs a positive integer\n".utf8)) }
        MPIEnvironment.finalize()
        exit(2)
    }
    arguments.removeFirst()
    switch flag {
    case "--dimension": options.p = value
    case "--rank": options.rank = value
    case "--steps": options.steps = value
    case "--columns": options.columns = value
    case "--outer": options.outer = value
    default:
        if world.rank == 0 { FileHandle.standardError.write(Data("nhgd-distributed-bench: unknown option \(flag)\n".utf8)) }
        MPIEnvironment.finalize()
        exit(2)
    }
}

do {
    // All ranks must run the same cell: otherwise one line from rank 0 and status 2 on every rank.
    try world.requireAgreement([options.p, options.rank, options.steps, options.columns, options.outer].map(Double.init),
                               about: "the benchmark options")
} catch {
    if world.rank == 0 { FileHandle.standardError.write(Data("nhgd-distributed-bench: \(error)\n".utf8)) }
    MPIEnvironment.finalize()
    exit(2)
}

do {
    let row = try runDistributedCell(world: world, p: options.p, rank: options.rank, steps: options.steps,
                                     columns: options.columns, outer: options.outer)
    if world.rank == 0 { print(row) }
} catch {
    FileHandle.standardError.write(Data("nhgd-distributed-bench: rank \(world.rank): \(error)\n".utf8))
    MPIEnvironment.abort(status: 1)
}
MPIEnvironment.finalize()
