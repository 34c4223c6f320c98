import Foundation
import NaturalHypergradient

/// `soak`: long streams into Frequent Directions (Docs/reliability.md, "Soak").
///
/// - **Bounds over a long stream, p = 200**: 10⁶ gradients (10⁵ with `--quick`) in blocks of
///   64 with forgetting β = 0.01 per block into a rank-16 sketch without compensation, and every
///   50th block a side stream of 8 blocks, sketched on its own, merged in. A dense reference
///   `R ← (1 − β)R + AAᵀ` (one gemm per block; `R += R_side` at a merge) follows the same
///   stream. At 10 check points the error `E = R − F̂` is measured by a symmetric
///   eigendecomposition against FD's guarantees: `‖E‖₂ ≤ spectralErrorBound` (Δ plus the
///   rounding allowance) and `E ⪰ −(rounding allowance)·I`. The records give the largest
///   `‖E‖₂ / bound` over the check points and whether every check held.
/// - **Flat cost over a long stream, p = 10⁵**: 1,000 blocks of 64 gradients (200 with
///   `--quick`) into a rank-16 sketch with β = 0.1, timed in 10 windows, with the resident set
///   after each: the records give the seconds per ingested block in the first and the last
///   window and the resident-set growth between them, and `flat` when the last window costs at
///   most 1.5 times the first and the resident set grew by less than 1 % of the sketch.
struct SoakSuite: BenchmarkSuite {
    let name = "soak"
    let summary = "10⁶ gradients with forgetting and merges into FD at p = 200 against a dense reference; a long p = 10⁵ stream's time and memory"
    static let blockSize = 64

    func run(_ context: BenchmarkContext) throws -> [BenchmarkRecord] {
        let quick = context.options.quick
        return [try boundsOverALongStream(gradients: quick ? 100_000 : 1_000_000),
                try flatCostOverALongStream(blocks: quick ? 200 : 1_000)]
    }

    /// Gaussian columns with a decaying spectrum: row i scaled by 1/√(1 + i) (the first rows
    /// carry the mass, so the sketch has something to keep and something to shrink away).
    static func block(p: Int, b: Int, scales: [Double], using rng: inout Xoshiro256StarStar) -> Matrix {
        var m = Matrix.gaussian(rows: p, columns: b, using: &rng)
        m.storage.withUnsafeMutableBufferPointer { s in
            for j in 0..<b { for i in 0..<p { s[i + j * p] *= scales[i] } }
        }
        return m
    }

    func boundsOverALongStream(gradients total: Int) throws -> BenchmarkRecord {
        let p = 200, l = 16, b = Self.blockSize, beta = 0.01
        let blocks = total / b, checkEvery = max(1, blocks / 10)
        let scales = (0..<p).map { 1 / (1 + Double($0)).squareRoot() }
        var rng = Xoshiro256StarStar(seed: 2026)
        var sketch = try FrequentDirectionsSketch(dimension: p, rank: l)
        var reference = Matrix(rows: p, columns: p)
        var worstRatio = 0.0, worstNegative = 0.0, held = true, checks = 0, merges = 0, ingested = 0
        let seconds = try time {
            for t in 1...blocks {
                let a = Self.block(p: p, b: b, scales: scales, using: &rng)
                try sketch.ingest(columns: a, forgetting: t == 1 ? 1 : beta)
                try BLAS.gemm(.none, .transpose, a, a, beta: t == 1 ? 0 : 1 - beta, &reference)
                ingested += b
                if t % 50 == 0 {   // a side stream, sketched apart, merged in
                    var side = try FrequentDirectionsSketch(dimension: p, rank: l)
                    var sideReference = Matrix(rows: p, columns: p)
                    for s in 1...8 {
                        let c = Self.block(p: p, b: b, scales: scales, using: &rng)
                        try side.ingest(columns: c, forgetting: s == 1 ? 1 : beta)
                        try BLAS.gemm(.none, .transpose, c, c, beta: s == 1 ? 0 : 1 - beta, &sideReference)
                    }
                    try sketch.merge(side)
                    BLAS.axpy(1, sideReference.storage, &reference.storage)
                    merges += 1
                    ingested += 8 * b
                }
                if t % checkEvery == 0 || t == blocks {
                    var error = reference
                    let estimate = try sketch.lowRankPlusDiagonal(adding: nil).materialized()
                    BLAS.axpy(-1, estimate.storage, &error.storage)
                    let eigen = try SymmetricEigendecomposition(error)
                    let norm = max(abs(eigen.values.min() ?? 0), abs(eigen.values.max() ?? 0))
                    let bound = sketch.spectralErrorBound
                    worstRatio = max(worstRatio, norm / bound)
                    worstNegative = max(worstNegative, -(eigen.values.min() ?? 0) / max(sketch.roundingAllowance, .leastNormalMagnitude))
                    if norm > bound || -(eigen.values.min() ?? 0) > sketch.roundingAllowance { held = false }
                    checks += 1
                }
            }
        }
        return BenchmarkRecord(
            suite: name, name: "FD bounds, \(ingested) gradients, β \(beta), \(merges) merges", p: p, k: l, seconds: seconds,
            metrics: [("gradients", Double(ingested)), ("check points", Double(checks)),
                      ("max ‖E‖/bound", worstRatio), ("max −λmin(E)/rounding", worstNegative),
                      ("shrinks", Double(sketch.shrinkCount))],
            flags: [("bounds held", held)])
    }

    func flatCostOverALongStream(blocks: Int) throws -> BenchmarkRecord {
        let p = 100_000, l = 16, b = Self.blockSize, windows = 10
        let perWindow = max(1, blocks / windows)
        var rng = Xoshiro256StarStar(seed: 7)
        let scales = [Double](repeating: 1, count: p)
        let pool = (0..<4).map { _ in Self.block(p: p, b: b, scales: scales, using: &rng) }
        var sketch = try FrequentDirectionsSketch(dimension: p, rank: l)
        for k in 0..<(2 * l / b + 2) { try sketch.ingest(columns: pool[k % pool.count], forgetting: 0.1) }   // warm up
        var windowSeconds: [Double] = [], resident: [Int] = []
        var n = 0
        for _ in 0..<windows {
            windowSeconds.append(try time {
                for _ in 0..<perWindow {
                    try sketch.ingest(columns: pool[n % pool.count], forgetting: 0.1)
                    n += 1
                }
            } / Double(perWindow))
            resident.append(residentBytes())
        }
        let growth = Double(resident.last! - resident.first!)
        let first = windowSeconds.first!, last = windowSeconds.last!
        let flat = last <= 1.5 * first && growth < 0.01 * Double(sketch.byteCount)
        return BenchmarkRecord(
            suite: name, name: "long stream, \(n * b) gradients", p: p, k: l, seconds: median(windowSeconds),
            metrics: [("s/block first window", first), ("s/block last window", last),
                      ("s/block max window", windowSeconds.max()!),
                      ("RSS first window MB", Double(resident.first!) / 1e6),
                      ("RSS growth MB", growth / 1e6), ("sketch MB", Double(sketch.byteCount) / 1e6)],
            flags: [("flat", flat)])
    }
}
