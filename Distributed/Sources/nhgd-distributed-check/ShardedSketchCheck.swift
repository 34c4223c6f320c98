import Foundation
import NHGDLinearAlgebra
import NHGDSketches

/// One random case: sizes, options and a stream, all drawn from one seed (identical on every rank).
struct ShardedCase: CustomStringConvertible {
    var seed: UInt64
    var p: Int
    var rank: Int
    var compensation: DiagonalCompensation
    var interval: Int
    var perEntryDiagonal: Bool

    var description: String {
        "seed 0x\(String(seed, radix: 16)) p=\(p) ℓ=\(rank) \(compensation) interval=\(interval) "
            + (perEntryDiagonal ? "per-entry E" : "uniform E")
    }
}

/// The largest relative differences a case measured between the sharded and the one-process
/// sketch, over all ranks.
struct Differences {
    var apply = 0.0, solve = 0.0, refined = 0.0, block = 0.0, shrunkMass = 0.0
    var worst: Double { [apply, solve, refined, block, shrunkMass].max()! }
}

/// The tolerance of every comparison: a relative 1e-10 (issue 13's requirement).
///
/// Why it holds with room: the two sketches see the same columns and differ only in the order
/// of the sums over p (per-rank parts, then across ranks), so their Gram matrices, and hence
/// the kept directions weighted by `λᵢ − δ` (continuous in the data even where eigenvalues
/// cluster), differ by O((p + 2ℓ)·ε·tr F) per shrink. The damping is drawn in
/// `[10⁻³, 10⁻¹]·tr F`, so `κ(F̂ + E + λI) ≤ 1 + tr F/λ ≤ 1001`, and a relative operator
/// difference of 1e-14 moves the solve by at most ~1e-11. Measured (60 cases at R = 2, 3):
/// below 1e-13 (Docs/distributed.md).
let tolerance = 1e-10

/// Checks sharded FD + Woodbury against the one-process versions on `cases` random cases.
/// - Returns: the number of failing cases (the same on every rank).
func checkShardedSketchEqualsOneProcess(
    _ communicator: any Communicator, cases: Int, baseSeed: UInt64, replay: UInt64?, report: (String) -> Void
) throws -> Int {
    var seeds: [UInt64] = []
    if let replay {
        seeds = [replay]
    } else {
        var master = Xoshiro256StarStar(seed: baseSeed)
        seeds = (0..<cases).map { _ in master.next() }
    }
    var failures = 0, worst = 0.0, uneven = 0, shrinks = 0
    for seed in seeds {
        let (c, d, shrinkCount) = try runCase(seed: seed, communicator: communicator)
        worst = max(worst, d.worst)
        shrinks += shrinkCount
        if c.p % communicator.size != 0 { uneven += 1 }
        if !(d.worst <= tolerance) {
            failures += 1
            report("FAIL sharded FD ≠ one process (R = \(communicator.size)): \(c): apply \(d.apply), solve \(d.solve), "
                + "refined \(d.refined), block \(d.block), Δ \(d.shrunkMass) > \(tolerance); "
                + "replay: NHGD_DISTRIBUTED_SEED=0x\(String(seed, radix: 16)) mpirun -np \(communicator.size) …")
        }
    }
    report(String(format: "sharded FD + Woodbury = one process: %d cases on R = %d (%d with uneven shards, %d shrinks), "
        + "largest relative difference %.2e (tolerance %.0e)", seeds.count, communicator.size, uneven, shrinks, worst, tolerance))
    return failures
}

/// Runs one case; returns it, the differences (agreed across ranks) and the shrink count.
func runCase(seed: UInt64, communicator: any Communicator) throws -> (ShardedCase, Differences, Int) {
    var rng = Xoshiro256StarStar(seed: seed)
    let ranks = communicator.size
    let p = Double.random(in: 0..<1, using: &rng) < 0.2 ? ranks + Int.random(in: 0...3, using: &rng)
                                                       : Int.random(in: max(ranks, 2)...80, using: &rng)
    let c = ShardedCase(
        seed: seed, p: p, rank: Int.random(in: 1...12, using: &rng),
        compensation: [DiagonalCompensation.none, .scalar, .residualDiagonal].randomElement(using: &rng)!,
        interval: [1, 2, 8].randomElement(using: &rng)!, perEntryDiagonal: Bool.random(using: &rng))
    let shard = try RowShard(dimension: p, communicator: communicator)
    let rows = shard.rows
    var whole = try FrequentDirectionsSketch(dimension: p, rank: c.rank, compensation: c.compensation,
                                             shrinkMethod: .gramTrick(reorthogonalizationInterval: c.interval))
    var part = try FrequentDirectionsSketch(shard: shard, rank: c.rank, compensation: c.compensation,
                                            shrinkMethod: .gramTrick(reorthogonalizationInterval: c.interval))
    // A low-rank signal plus isotropic noise, with decaying scales.
    let signalRank = Int.random(in: 1...min(p, 2 * c.rank + 3), using: &rng)
    let basis = Matrix.gaussian(rows: p, columns: signalRank, using: &rng)
    var traceF = 0.0
    var differences = Differences()

    func ingestBlocks(_ count: Int) throws {
        for _ in 0..<count {
            let b = Int.random(in: 1...8, using: &rng)
            var block = Matrix.gaussian(rows: p, columns: b, using: &rng)
            BLAS.scale(&block.storage, by: 0.05)
            let z = Matrix.gaussian(rows: signalRank, columns: b, using: &rng)
            var scaled = z
            for i in 0..<signalRank { for j in 0..<b { scaled[i, j] *= pow(0.7, Double(i)) } }
            try BLAS.gemm(.none, .none, alpha: 1, basis, scaled, beta: 1, &block)
            for j in 0..<b {
                let u = Double.random(in: 0..<1, using: &rng)
                if u < 0.08 {
                    for i in 0..<p { block[i, j] = 0 }                      // a zero column: takes no slot
                } else if u < 0.16 {
                    for i in RowShard.rows(of: 0, dimension: p, ranks: ranks) { block[i, j] = 0 }  // zero on rank 0's rows only
                }
            }
            let beta = Double.random(in: 0..<1, using: &rng) < 0.05 ? 1 : pow(10, Double.random(in: -2...(-0.3), using: &rng))
            try whole.ingest(block, columns: 0..<b, forgetting: beta)
            try part.ingest(localRows(block, rows), columns: 0..<b, forgetting: beta)
            traceF = (beta == 1 ? 0 : (1 - beta) * traceF) + block.storage.reduce(0) { $0 + $1 * $1 }
            if Double.random(in: 0..<1, using: &rng) < 0.08 {
                try whole.shrink()
                try part.shrink()
            }
        }
    }

    func compare() throws {
        let scale = max(traceF, 1e-300)
        let lambda = scale * pow(10, Double.random(in: -3...(-1), using: &rng))
        let strength = scale * Double.random(in: 0...0.01, using: &rng)
        let extra: [Double] = (0..<p).map { _ in c.perEntryDiagonal ? strength * Double.random(in: 0.5...2, using: &rng) : strength }
        let extraWhole = c.perEntryDiagonal ? Diagonal(entries: extra) : .uniform(strength, dimension: p)
        let extraPart = c.perEntryDiagonal ? Diagonal(entries: Array(extra[rows])) : .uniform(strength, dimension: rows.count)
        let v = (0..<p).map { _ in Double.random(in: -1...1, using: &rng) }
        let vBlock = Matrix.gaussian(rows: p, columns: 3, using: &rng)
        let vLocal = Array(v[rows])
        for _ in 0..<2 {       // the second round reads the cached factorisation
            let w = try whole.inverse(adding: extraWhole, damping: lambda)
            let s = try part.inverse(adding: extraPart, damping: lambda)
            var yw = [Double](repeating: 0, count: p), ys = [Double](repeating: 0, count: rows.count)
            try w.apply(v, into: &yw)
            try s.apply(vLocal, into: &ys)
            differences.apply = max(differences.apply, try relative(ys, Array(yw[rows]), communicator))
            differences.solve = max(differences.solve,
                                    try relative(try s.solve(vLocal), Array(try w.solve(v)[rows]), communicator))
            differences.refined = max(differences.refined, try relative(try s.solve(vLocal, refinementSteps: 1),
                                                                        Array(try w.solve(v, refinementSteps: 1)[rows]),
                                                                        communicator))
            let xw = try w.solve(block: vBlock), xs = try s.solve(block: localRows(vBlock, rows))
            differences.block = max(differences.block, try relative(xs.storage, localRows(xw, rows).storage, communicator))
        }
        differences.shrunkMass = max(differences.shrunkMass,
                                     abs(part.spectralErrorBound - whole.spectralErrorBound) / scale)
    }

    try ingestBlocks(Int.random(in: 1...24, using: &rng))
    try compare()
    try ingestBlocks(Int.random(in: 1...3, using: &rng))   // the factorisation is rebuilt after new columns
    try compare()
    // Reduce each difference to its largest over ranks (the sums of squares already are global;
    // Δ is compared on every rank): broadcast rank 0's, which every rank computed alike.
    var message = [differences.apply, differences.solve, differences.refined, differences.block, differences.shrunkMass]
    try communicator.broadcast(&message, root: 0)
    differences = Differences(apply: message[0], solve: message[1], refined: message[2], block: message[3],
                              shrunkMass: message[4])
    return (c, differences, whole.shrinkCount)
}

/// `‖a − b‖ / ‖b‖` over all ranks' rows (one allreduce of two doubles).
func relative(_ a: [Double], _ b: [Double], _ communicator: any Communicator) throws -> Double {
    precondition(a.count == b.count)
    var sums = [0.0, 0.0]
    for i in a.indices {
        sums[0] += (a[i] - b[i]) * (a[i] - b[i])
        sums[1] += b[i] * b[i]
    }
    try communicator.allreduceSum(&sums)
    return sums[1] == 0 ? sums[0].squareRoot() : (sums[0] / sums[1]).squareRoot()
}

/// The rows `rows` of every column of `m`.
func localRows(_ m: Matrix, _ rows: Range<Int>) -> Matrix {
    var out = Matrix(rows: rows.count, columns: m.columns)
    for j in 0..<m.columns { for (n, i) in rows.enumerated() { out[n, j] = m[i, j] } }
    return out
}
