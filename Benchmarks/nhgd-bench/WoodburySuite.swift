import NaturalHypergradient

/// `woodbury`: one `LowRankPlusDiagonal` solve, and a block of 8, at p = 10⁶ (10⁵ with
/// `--quick`) and k ∈ {16, 64, 256}, against the read-bandwidth probe.
///
/// A solve is memory-bound (ALGORITHMS.md §4): it must stream `U` twice (16pk bytes) plus the
/// length-p vectors it touches. The vector traffic is counted from
/// `WoodburyFactorization.solveUnchecked` and `solve(block:)` (see ``solveVectorBytes(p:)`` and
/// ``blockVectorBytes(p:m:)``); the ratio is (those bytes ÷ median time) ÷ read bandwidth.
/// The factorisation is built once, outside the timing, and its build time reported apart
/// (p·k² flops of `dsyrk`, so its ratio is against the dgemm probe).
struct WoodburySuite: BenchmarkSuite {
    let name = "woodbury"
    let summary = "Woodbury solve (1 and 8 right-hand sides) vs memory bandwidth, p = 1e6, k ∈ {16, 64, 256}"
    static let blockWidth = 8

    /// Bytes of length-p traffic in `WoodburyFactorization.solveRowBlocked` (the output is
    /// allocated uninitialised, the row-block scratch stays in cache): pass 1 reads v and d⁻¹
    /// (16p), pass 2 reads v and d⁻¹ and writes x (24p): 40p bytes.
    static func solveVectorBytes(p: Int) -> Int { 40 * p }

    /// The same for m right-hand sides: V twice and X once (24pm), d⁻¹ once per pass (16p;
    /// the other columns of a row block find it in cache).
    static func blockVectorBytes(p: Int, m: Int) -> Int { 24 * p * m + 16 * p }

    func run(_ context: BenchmarkContext) throws -> [BenchmarkRecord] {
        let quick = context.options.quick
        let p = quick ? 100_000 : 1_000_000
        let ranks = [16, 64, 256]
        let reps = context.repetitions(full: 9, quick: 5)
        let machine = context.machine()
        var records = [BenchmarkRecord]()
        for k in ranks {
            var u = Matrix(rows: p, columns: 0)
            u = try Matrix(rows: p, columns: k, storage: filledArray(count: p * k, seed: UInt64(k)))
            // Scale U so the normalised low-rank part has norm ~1: C is well conditioned.
            BLAS.scale(&u.storage, by: 1 / Double(p).squareRoot())
            let d = filledArray(count: p, seed: 7).map { 1.5 + $0 }  // in [0.5, 2.5)
            let op = try LowRankPlusDiagonal(diagonal: d, factor: u)
            let damping = 1e-3
            var factorization: WoodburyFactorization?
            let buildSeconds = try time { factorization = try op.factorized(damping: damping) }
            let f = factorization!
            let buildFlops = Double(p) * Double(k) * Double(k + 1)
            records.append(BenchmarkRecord(
                suite: name, name: "build", p: p, k: k, seconds: buildSeconds,
                ratio: buildFlops / buildSeconds / machine.dgemmFlopsPerSecond, limit: "dgemm",
                metrics: [("GFLOP/s", buildFlops / buildSeconds / 1e9)]))

            let v = filledArray(count: p, seed: 11)
            var x = [Double]()
            let (solveSeconds, readNow) = try context.interleavedWithReadProbe(repetitions: reps) { x = try f.solve(v) }
            blackHole(x)
            let solveBytes = 16 * p * k + Self.solveVectorBytes(p: p) + 8 * k * k
            records.append(bandwidthRecord("solve", p: p, k: k, seconds: solveSeconds, bytes: solveBytes, readNow))

            // The floor BLAS sets: the same two passes over U as plain whole-matrix gemv calls
            // (t = Uᵀv, y = U t), reading v and writing y (16p bytes). The solve cannot beat it.
            var t = [Double](repeating: 0, count: k), y = [Double](repeating: 0, count: p)
            let (gemvSeconds, readDuringGemv) = try context.interleavedWithReadProbe(repetitions: reps) {
                try BLAS.gemv(.transpose, u, v, &t)
                try BLAS.gemv(.none, u, t, &y)
            }
            blackHole(y)
            records.append(bandwidthRecord("gemv Uᵀv then U t", p: p, k: k, seconds: gemvSeconds,
                                           bytes: 16 * p * k + 16 * p, readDuringGemv))

            let m = Self.blockWidth
            let block = try Matrix(rows: p, columns: m, storage: filledArray(count: p * m, seed: 13))
            var xs = Matrix(rows: 0, columns: 0)
            let (blockSeconds, readDuringBlock) = try context.interleavedWithReadProbe(repetitions: reps) {
                xs = try f.solve(block: block)
            }
            blackHole(xs)
            // 4pkm flops against 16pk + 24pm bytes: about m/4 flops per byte, which on most
            // machines is near or past the balance point (dgemm flop rate ÷ bandwidth), so the
            // limit is the roofline: the larger of the bandwidth time and the dgemm time.
            let blockBytes = 16 * p * k + Self.blockVectorBytes(p: p, m: m) + 8 * k * k
            let blockFlops = 4 * Double(p) * Double(k) * Double(m)
            let memoryBound = Double(blockBytes) / readDuringBlock
            let computeBound = blockFlops / machine.dgemmFlopsPerSecond
            records.append(BenchmarkRecord(
                suite: name, name: "solve block of \(m)", p: p, k: k, seconds: blockSeconds,
                ratio: max(memoryBound, computeBound) / blockSeconds,
                limit: memoryBound >= computeBound ? "roofline (bandwidth)" : "roofline (dgemm)",
                metrics: [("bytes", Double(blockBytes)), ("GB/s", Double(blockBytes) / blockSeconds / 1e9),
                          ("GFLOP/s", blockFlops / blockSeconds / 1e9), ("s per rhs", blockSeconds / Double(m)),
                          ("probe GB/s", readDuringBlock / 1e9)]))
        }
        records += try sketchEstimate(p: p, rank: 64, repetitions: reps)
        return records
    }

    /// `sketch estimate after one block`: a rank-ℓ Frequent Directions sketch past its first
    /// shrink ingests one block of 8 columns; then NHGD's estimate needs `(F̂ + μI)⁻¹ v`. Timed:
    /// `inverse(adding:damping:)` plus one solve (the capacitance from the Gram matrix the sketch
    /// keeps: an m×m Cholesky factor, no p-sized work), in units of one solve with the same
    /// factorisation (`solves`); and, in the same process, what it cost before the sketch kept
    /// its Gram matrix: the copy `lowRankPlusDiagonal` (p×m, rescaled), a p·m² build and a solve.
    func sketchEstimate(p: Int, rank: Int, repetitions reps: Int) throws -> [BenchmarkRecord] {
        var sketch = try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .scalar)
        var seed: UInt64 = 100
        func block() throws -> Matrix {
            seed += 1
            var g = try Matrix(rows: p, columns: Self.blockWidth, storage: filledArray(count: p * Self.blockWidth, seed: seed))
            BLAS.scale(&g.storage, by: 1 / Double(p).squareRoot())
            return g
        }
        while sketch.shrinkCount == 0 || sketch.filledColumns < rank + Self.blockWidth {
            try sketch.ingest(columns: try block(), forgetting: 0.1)
        }
        let curvature = Diagonal.uniform(2e-3, dimension: p), damping = 1e-3
        let v = filledArray(count: p, seed: 17)
        var estimateTimes = [Double](), solveTimes = [Double](), rebuildTimes = [Double]()
        var x = [Double]()
        for _ in 0..<reps {
            try sketch.ingest(columns: try block(), forgetting: 0.1)   // a new block: the factor must be redone
            if sketch.filledColumns == 2 * rank { try sketch.shrink() }
            var factorization: WoodburyFactorization?
            estimateTimes.append(try time {
                factorization = try sketch.inverse(adding: curvature, damping: damping)
                x = try factorization!.solve(v)
            })
            solveTimes.append(try time { x = try factorization!.solve(v) })
            factorization = nil
            rebuildTimes.append(try time {
                var copy = try sketch.lowRankPlusDiagonal(adding: curvature.entries)
                x = try copy.solve(v, damping: damping)
            })
        }
        blackHole(x)
        let solve = median(solveTimes), estimate = median(estimateTimes), rebuild = median(rebuildTimes)
        let m = Double(sketch.filledColumns)
        return [
            BenchmarkRecord(suite: name, name: "sketch estimate after one block", p: p, k: rank, seconds: estimate,
                            ratio: estimate / solve, limit: "solves",
                            metrics: [("buffer columns", m), ("solve s", solve)]),
            BenchmarkRecord(suite: name, name: "sketch estimate by copy and rebuild", p: p, k: rank, seconds: rebuild,
                            ratio: rebuild / solve, limit: "solves",
                            metrics: [("buffer columns", m), ("solve s", solve)]),
        ]
    }

    /// A memory-bound record: ratio = achieved bandwidth ÷ the read probe run alongside it.
    func bandwidthRecord(_ label: String, p: Int, k: Int, seconds: Double, bytes: Int, _ read: Double) -> BenchmarkRecord {
        let achieved = Double(bytes) / seconds
        return BenchmarkRecord(
            suite: name, name: label, p: p, k: k, seconds: seconds,
            ratio: achieved / read, limit: "read bandwidth",
            metrics: [("bytes", Double(bytes)), ("GB/s", achieved / 1e9), ("probe GB/s", read / 1e9)])
    }
}
