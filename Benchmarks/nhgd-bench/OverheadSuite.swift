import Foundation
import NaturalHypergradient

/// `overhead`: wall time per outer iteration of each hypergradient method against plain inner
/// SGD (issue 4; Docs/benchmarks.md, section "overhead").
///
/// Problems: MNIST data hyper-cleaning (``DataHyperCleaning/mnist(trainCount:validationCount:testCount:corruptionFraction:l2:bias:using:)``,
/// p = 7,850) and ``SyntheticLogisticRegression`` at p ∈ {10⁴, 10⁵, 10⁶} (`--quick`: 10⁴ and
/// 10⁵, fewer iterations). Methods, each its own ``BilevelOptimizer`` with T warm-started inner
/// SGD steps of b samples per outer iteration and OpenBLAS at one thread per worker:
/// - `sgd`: ``BilevelOptimizer/runInnerLoop()`` with an estimator that does not observe — the
///   inner loop alone, no hypergradient: the denominator of every ratio;
/// - `nhgd pipelined <compression>` / `nhgd sequential <compression>`: NHGD with a Frequent
///   Directions sketch (rank ℓ, scalar compensation) ingesting compressed blocks, on a second
///   worker or inline; the `every 5` rows ingest columns on every 5th inner step only (the
///   ingest budget `CurvatureColumnRequest.interval`, nhgd-pcg's default);
/// - `cg-10` (full-batch HVPs, as the `nhgd` CLI runs it), `neumann-10`, `amigo-10` (minibatch
///   HVPs of b samples, step ½/L).
///
/// All methods are timed **interleaved** (one outer iteration of each in turn, the order
/// rotated every round, after warm-up rounds), so that a noisy neighbour on the shared machine
/// slows all of them alike; each record is the median over the rounds, and `ratio` is that
/// median ÷ the median of `sgd` from the same rounds.
///
/// Breakdown records (`part …`) say where NHGD's time goes: one SGD step, one sketch ingest of
/// a p×b block of per-sample gradients through `ingest(_:weights:forgetting:compression:)`
/// (alone on an idle core: the block's validation scan, the compression and the amortised
/// shrinks; the inner loop itself ingests its p×s combination block instead and scans only
/// that) and one estimate (the oracles, the in-place Woodbury inverse and solve).
struct OverheadSuite: BenchmarkSuite {
    let name = "overhead"
    let summary = "NHGD (pipelined/sequential), CG-10, Neumann-10, AmIGO-10 time per outer iteration ÷ plain SGD; MNIST cleaning and synthetic p ∈ {1e4, 1e5, 1e6}"

    /// Settings of one measured problem.
    struct Setting {
        var innerSteps: Int
        var batchSize: Int
        var rank: Int
        var compressedColumns: Int
        var rounds: Int
        var warmUpRounds: Int
    }

    func run(_ context: BenchmarkContext) throws -> [BenchmarkRecord] {
        let quick = context.options.quick
        let environment = ProcessInfo.processInfo.environment
        func setting(_ key: String, _ fallback: Int) -> Int { environment[key].flatMap(Int.init) ?? fallback }
        let base = Setting(
            innerSteps: setting("NHGD_OVERHEAD_T", quick ? 20 : 50),
            batchSize: setting("NHGD_OVERHEAD_B", 64),
            rank: setting("NHGD_OVERHEAD_RANK", 16),
            compressedColumns: setting("NHGD_OVERHEAD_S", 1),
            rounds: setting("NHGD_OVERHEAD_ROUNDS", quick ? 3 : 7),
            warmUpRounds: 1)
        let sizes = environment["NHGD_OVERHEAD_P"].map { $0.split(separator: ",").compactMap { Int($0) } }
            ?? (quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000])
        // One OpenBLAS thread per worker throughout (the inner loop sets the same): on 2 cores
        // the pipelined sketch worker owns the second core, and multi-threaded BLAS calls
        // spin-wait badly when a core is taken by anything else.
        let savedThreads = BLAS.threadCount
        BLAS.threadCount = 1
        defer { BLAS.threadCount = savedThreads }
        var records = [BenchmarkRecord]()
        if environment["NHGD_OVERHEAD_SKIP_MNIST"] == nil {
            var rng = Xoshiro256StarStar(seed: 4)
            let mnist = try CleaningExperiment.mnist(using: &rng).problem
            records += try measure(mnist, label: "mnist-cleaning", base)
        }
        for p in sizes {
            var rng = Xoshiro256StarStar(seed: UInt64(p))
            let problem = try SyntheticLogisticRegression.make(p: p, n: 20_000, m: 2_000, nonzerosPerSample: 32,
                                                               using: &rng)
            records += try measure(problem, label: "synthetic", base)
        }
        return records
    }

    /// One timed method: `body` runs one outer iteration (or the inner loop alone).
    private struct Method {
        var name: String
        var k: Int
        var body: () throws -> Void
        var times: [Double] = []
    }

    /// A ``BilevelOptimizer`` held by reference, so that closures can step it.
    private final class OptimizerBox<E: HypergradientEstimator> {
        var optimizer: BilevelOptimizer<E>
        init(_ optimizer: BilevelOptimizer<E>) { self.optimizer = optimizer }
    }

    private func measure<P: SecondOrderBilevelProblem>(
        _ problem: P, label: String, _ setting: Setting
    ) throws -> [BenchmarkRecord] {
        let p = problem.innerDimension, b = setting.batchSize, steps = setting.innerSteps
        let l = setting.rank, s = setting.compressedColumns
        var configuration = BilevelOptimizerConfiguration()
        configuration.innerSteps = steps
        configuration.batchSize = b
        configuration.innerLearningRate = 0.05
        configuration.outerLearningRate = 0.01
        configuration.outerIterations = Int.max
        configuration.evaluateEvery = 0
        configuration.blasThreads = 1
        configuration.seed = 11
        let eta = try safeStepSize(problem)

        func method<E: HypergradientEstimator>(_ name: String, k: Int, _ estimator: E, pipelined: Bool = true,
                                               innerLoopOnly: Bool = false) throws -> Method where E.Problem == P {
            var c = configuration
            c.pipelined = pipelined
            let box = OptimizerBox(try BilevelOptimizer(problem: problem, estimator: estimator, configuration: c))
            return Method(name: name, k: k, body: innerLoopOnly ? { try box.optimizer.runInnerLoop() } : { _ = try box.optimizer.step() })
        }
        func nhgd(_ compression: IngestCompression, every interval: Int = 1) throws
            -> NaturalHypergradient<P, FrequentDirectionsSketch> {
            try NaturalHypergradient(sketch: FrequentDirectionsSketch(dimension: p, rank: l, compensation: .scalar),
                                     columns: CurvatureColumnRequest(compression: compression, interval: interval, seed: 3))
        }
        let sampled = IngestCompression.sampledColumns(columns: s)
        var methods = [
            try method("sgd", k: 0, ConjugateGradientHypergradient<P>(iterations: 10), innerLoopOnly: true),
            try method("nhgd pipelined sampled s=\(s)", k: l, nhgd(sampled)),
            try method("nhgd sequential sampled s=\(s)", k: l, nhgd(sampled), pipelined: false),
            // The ingest budget of nhgd-pcg's defaults: columns on every 5th inner step only.
            try method("nhgd pipelined sampled s=\(s) every 5", k: l, nhgd(sampled, every: 5)),
            try method("nhgd sequential sampled s=\(s) every 5", k: l, nhgd(sampled, every: 5), pipelined: false),
            try method("cg-10", k: 10, ConjugateGradientHypergradient<P>(iterations: 10)),
            try method("neumann-10", k: 10, NeumannHypergradient<P>(terms: 10, stepSize: eta, batchSize: b)),
            try method("amigo-10", k: 10, AmIGOHypergradient<P>(steps: 10, stepSize: eta, batchSize: b)),
        ]
        if ProcessInfo.processInfo.environment["NHGD_OVERHEAD_DIAG"] != nil {
            methods.append(try method("nhgd sequential inner loop only", k: l, nhgd(sampled), pipelined: false, innerLoopOnly: true))
            methods.append(try method("nhgd pipelined inner loop only", k: l, nhgd(sampled), innerLoopOnly: true))
        }
        // More sampled columns per block: four times the ingest work (a shrink every ℓ/4 blocks).
        if s < 4 { methods.append(try method("nhgd pipelined sampled s=4", k: l, nhgd(.sampledColumns(columns: 4)))) }
        methods.append(try method("nhgd pipelined gaussian s=4", k: l, nhgd(.gaussian(columns: 4))))
        // Interleaved rounds: every method once per round, the order rotated each round.
        for round in 0..<(setting.warmUpRounds + setting.rounds) {
            for offset in methods.indices {
                let index = (offset + round) % methods.count
                let seconds = try time(methods[index].body)
                if round >= setting.warmUpRounds { methods[index].times.append(seconds) }
            }
        }
        let sgd = median(methods[0].times)
        let common: [(String, Double)] = [("T", Double(steps)), ("b", Double(b)), ("rounds", Double(setting.rounds)),
                                          ("load average", loadAverage())]
        var records = methods.map { m in
            let seconds = median(m.times)
            return BenchmarkRecord(
                suite: name, name: "\(m.name) \(label)", p: p, k: m.k, seconds: seconds, ratio: seconds / sgd,
                limit: "plain SGD",
                metrics: common + [("min s", m.times.min() ?? .nan), ("max s", m.times.max() ?? .nan)])
        }
        records += try breakdown(problem, label: label, setting, configuration: configuration, sgdSeconds: sgd)
        return records
    }

    /// Where NHGD's time goes: one SGD step, one ingest alone (and its validation scan), one estimate.
    private func breakdown<P: SecondOrderBilevelProblem>(
        _ problem: P, label: String, _ setting: Setting, configuration: BilevelOptimizerConfiguration, sgdSeconds: Double
    ) throws -> [BenchmarkRecord] {
        let p = problem.innerDimension, b = setting.batchSize, l = setting.rank, s = setting.compressedColumns
        // A realistic block: gradients at the point reached after one outer iteration of SGD.
        var estimator = try NaturalHypergradient<P, FrequentDirectionsSketch>(
            sketch: FrequentDirectionsSketch(dimension: p, rank: l, compensation: .scalar),
            columns: CurvatureColumnRequest(compression: .sampledColumns(columns: s), seed: 3))
        var optimizer = try BilevelOptimizer(problem: problem, estimator: estimator, configuration: configuration)
        try optimizer.runInnerLoop()
        let block = try problem.data.perSampleGradients(at: optimizer.y, samples: Array(0..<b))
        let weights = problem.sampleWeights(x: optimizer.x, samples: Array(0..<b))
        var records = [BenchmarkRecord]()
        func record(_ part: String, _ seconds: Double, _ extra: [(String, Double)] = []) {
            records.append(BenchmarkRecord(
                suite: name, name: "part \(part) \(label)", p: p, k: l, seconds: seconds,
                ratio: seconds / (sgdSeconds / Double(setting.innerSteps)), limit: "one SGD step",
                metrics: extra))
        }
        record("sgd step", sgdSeconds / Double(setting.innerSteps))
        // Each compression over whole shrink cycles (a shrink every ℓ/width blocks).
        var draws = Xoshiro256StarStar(seed: 5)
        for (tag, compression, width) in [("sampled s=\(s)", IngestCompression.sampledColumns(columns: s), s),
                                          ("sampled s=4", .sampledColumns(columns: 4), 4), ("gaussian s=4", .gaussian(columns: 4), 4),
                                          ("uncompressed", .none, b)] {
            let blocksPerShrink = max(1, l / width)
            var sketch = try FrequentDirectionsSketch(dimension: p, rank: l, compensation: .scalar)
            for _ in 0..<(2 * blocksPerShrink) {
                try sketch.ingest(block, weights: weights, forgetting: 0.1, compression: compression, using: &draws)
            }
            let reps = 2 * blocksPerShrink
            let seconds = try time {
                for _ in 0..<reps {
                    try sketch.ingest(block, weights: weights, forgetting: 0.1, compression: compression, using: &draws)
                }
            }
            record("ingest \(tag)", seconds / Double(reps), [("shrinks", Double(sketch.shrinkCount))])
        }
        let scan = medianTime(repetitions: 5) { blackHole(block.firstNonFiniteIndex) }
        record("ingest validation scan", scan)
        var sketch = try FrequentDirectionsSketch(dimension: p, rank: l, compensation: .scalar)
        for _ in 0..<(2 * max(1, l / s) + 1) {
            try sketch.ingest(block, weights: weights, forgetting: 0.1, compression: .sampledColumns(columns: s),
                              using: &draws)
        }
        estimator = try NaturalHypergradient(sketch: sketch, damping: estimator.damping, columns: estimator.columns)
        var rng = Xoshiro256StarStar(seed: 9)
        let (x, y) = (optimizer.x, optimizer.y)
        let estimate = try medianTime(repetitions: 3) {
            blackHole(try estimator.estimate(problem: problem, x: x, y: y, using: &rng))
        }
        let filled = Double(estimator.sketch.filledColumns)
        record("nhgd estimate", estimate, [("factor columns", filled)])
        // Its parts: the oracles (∇f, diag ∇²R, J u), and the in-place Woodbury inverse and one
        // solve (the woodbury suite times the inverse right after a block arrives).
        let oracles = try medianTime(repetitions: 3) {
            let (_, fy) = try problem.outerGradients(x: x, y: y)
            blackHole(problem.regularizerCurvature(x: x, y: y))
            blackHole(try problem.crossProduct(x: x, y: y, u: fy))
        }
        record("estimate oracles", oracles)
        let curvature = problem.regularizerCurvature(x: x, y: y)
        let fy = try problem.outerGradients(x: x, y: y).y
        let solve = try medianTime(repetitions: 3) {
            var fresh = estimator.sketch   // the capacitance cached by the estimate above, if it kept one
            blackHole(try fresh.inverse(adding: curvature, damping: estimator.damping).solve(fy))
        }
        record("estimate woodbury inverse and solve", solve, [("factor columns", filled)])
        return records
    }

    /// The 1-minute load average (from /proc/loadavg; NaN where unavailable): how busy the
    /// shared machine was while a problem was measured.
    private func loadAverage() -> Double {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))
            .flatMap { $0.split(separator: " ").first.flatMap { Double($0) } } ?? .nan
    }

    /// `½ / L`, L ≈ the largest eigenvalue of the full-batch Hessian at the start (20 power
    /// iterations), as the `nhgd` CLI chooses the Neumann and AmIGO step.
    private func safeStepSize<P: SecondOrderBilevelProblem>(_ problem: P) throws -> Double {
        let lambda = try largestHessianEigenvalue(
            of: problem, x: problem.initialOuter(), y: problem.initialInner(), iterations: 20)
        return 0.5 / max(lambda, .leastNormalMagnitude)
    }
}
