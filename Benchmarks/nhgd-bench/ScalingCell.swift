import Foundation
import NaturalHypergradient
internal import CLAPACK

/// One cell of the `scaling` suite, measured in its own child process so that the peak
/// resident set (`VmHWM`, per process) belongs to that cell alone.
///
/// Spelled on the command line as `kind:key=value:…`, for example
/// `synthetic:p=1000000:k=64:n=4096:m=1024:s=32:b=32` or `mlp:h=1280:k=64:b=64:n=2000:m=1000`.
struct ScalingCell: Equatable, CustomStringConvertible {
    enum Kind: String { case synthetic, mlp }
    var kind: Kind
    /// Parameters by key: p (synthetic), h (mlp), k (sketch rank), b (minibatch), n, m, s.
    var values: [String: Int]

    subscript(_ key: String) -> Int { values[key] ?? 0 }

    var description: String {
        ([kind.rawValue] + values.keys.sorted().map { "\($0)=\(values[$0]!)" }).joined(separator: ":")
    }

    init(kind: Kind, _ values: [String: Int]) {
        self.kind = kind
        self.values = values
    }

    init(parsing text: String) throws {
        let parts = text.split(separator: ":")
        guard let first = parts.first, let kind = Kind(rawValue: String(first)) else {
            throw BenchmarkCommandLine.Failure(description: "--cell: unknown kind in \(text) (synthetic or mlp)")
        }
        var values = [String: Int]()
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=")
            guard pair.count == 2, let value = Int(pair[1]), value >= 0 else {
                throw BenchmarkCommandLine.Failure(description: "--cell: bad key=value \(part) in \(text)")
            }
            values[String(pair[0])] = value
        }
        let required = kind == .synthetic ? ["p", "k", "n", "m", "s", "b"] : ["h", "k", "n", "m", "b"]
        for key in required where values[key] == nil || values[key]! < 1 {
            throw BenchmarkCommandLine.Failure(description: "--cell: \(text) needs a positive \(key)")
        }
        self.init(kind: kind, values)
    }

    /// MNIST inputs: d = 784, K = 10.
    static let mnistFeatures = 784, mnistClasses = 10

    /// p of the cell.
    var parameterCount: Int {
        kind == .synthetic ? self["p"]
            : TanhNetwork.parameterCount(featureCount: Self.mnistFeatures, hiddenWidth: self["h"],
                                              classCount: Self.mnistClasses)
    }

    /// A model of the cell's peak memory, to skip cells that cannot fit before starting them:
    /// the sketch's `(2k + 2)·p` doubles, the p×k Woodbury factor, the p×b gradient block and
    /// about 16 length-p vectors (x, y, gradients, solutions, CG and Neumann work vectors, the
    /// shifted and inverted diagonals), plus the sparse data `(n + m)·s·16` bytes.
    var modelBytes: Int {
        let p = parameterCount, k = self["k"], b = self["b"]
        let data = kind == .synthetic ? (self["n"] + self["m"]) * self["s"] * 16 : 0
        return 8 * p * (3 * k + 2 + b + 16) + data
    }

    /// Bytes the dense Hessian needs.
    var denseHessianBytes: Double { 8 * Double(parameterCount) * Double(parameterCount) }
}

/// The exact estimator's memory budget: the dense Hessian may take at most this.
let exactMemoryBudget = 4 << 30

/// `(cosine, relative error)` of an estimate against a reference.
func agreement(_ estimate: [Double], _ reference: [Double]) -> (cosine: Double, relativeError: Double) {
    var difference = estimate
    BLAS.axpy(-1, reference, &difference)
    let ne = BLAS.norm(estimate), nr = BLAS.norm(reference)
    return (BLAS.dot(estimate, reference) / (ne * nr), BLAS.norm(difference) / nr)
}

/// The measurements of one cell (run in the child process).
enum ScalingCellRunner {
    /// Timed repetitions of the cheaper estimates: several for small p, one at p ≥ 10⁶.
    static func repetitions(p: Int) -> Int { p >= 1_000_000 ? 1 : 3 }

    /// Median of `reps` runs of `body` (no warm-up: at p = 10⁷ one run takes seconds), and the last result.
    static func timed<T>(_ reps: Int, _ body: () throws -> T) rethrows -> (seconds: Double, value: T) {
        var times = [Double](), value: T?
        for _ in 0..<max(1, reps) { times.append(try time { value = try body() }) }
        return (median(times), value!)
    }

    static func record(_ cell: ScalingCell, _ method: String, seconds: Double, feasible: Bool = true,
                       metrics: [(String, Double)] = [], labels: [(String, String)] = []) -> BenchmarkRecord {
        let name = cell.kind == .synthetic ? method : "mlp \(method)"
        var r = BenchmarkRecord(suite: "scaling", name: name, p: cell.parameterCount, k: cell["k"], seconds: seconds,
                                metrics: metrics)
        r.labels = [("method", method), ("problem", cell.kind == .synthetic ? "synthetic-logistic" : "mlp-mnist")] + labels
        r.flags = [("feasible", feasible)]
        return r
    }

    /// The library's inner loop for `steps` steps from `(x, y)`, twice: plain SGD (one
    /// combination column per step) and with NHGD asking for every gradient of every step as a
    /// sketch column (running mean, sequential: no second worker).
    /// Returns the per-step times of both, NHGD's estimator (holding the sketch) and the inner
    /// point NHGD's loop reached.
    static func innerLoops<P: SecondOrderBilevelProblem>(
        _ problem: P, x: [Double], y: [Double], rank k: Int, batch b: Int, steps: Int, stepSize: Double
    ) throws -> (sgdSeconds: Double, nhgdSeconds: Double, estimator: NaturalHypergradient<P, FrequentDirectionsSketch>,
                 y: [Double]) {
        var configuration = BilevelOptimizerConfiguration()
        configuration.innerSteps = steps
        configuration.batchSize = b
        configuration.innerLearningRate = stepSize
        configuration.pipelined = false
        configuration.blasThreads = nil
        var plain = try BilevelOptimizer(problem: problem, estimator: ConjugateGradientHypergradient<P>(),
                                         configuration: configuration, x: x, y: y)
        let sgdSeconds = try time { try plain.runInnerLoop() } / Double(steps)
        let nhgd = try NaturalHypergradient<P, FrequentDirectionsSketch>(
            sketch: FrequentDirectionsSketch(dimension: problem.innerDimension, rank: k), damping: 0,
            columns: CurvatureColumnRequest(compression: .none, forgetting: .runningMean))
        var optimizer = try BilevelOptimizer(problem: problem, estimator: nhgd, configuration: configuration, x: x, y: y)
        let nhgdSeconds = try time { try optimizer.runInnerLoop() } / Double(steps)
        return (sgdSeconds, nhgdSeconds, optimizer.estimator, optimizer.y)
    }

    /// `sgd step` (the inner loop's step alone) and `nhgd step` (with its sketch columns).
    static func stepRecords(_ cell: ScalingCell, sgdSeconds: Double, nhgdSeconds: Double) -> [BenchmarkRecord] {
        let b = Double(cell["b"])
        return [record(cell, "sgd step", seconds: sgdSeconds, metrics: [("gradients/s", b / sgdSeconds), ("b", b)]),
                record(cell, "nhgd step", seconds: nhgdSeconds,
                       metrics: [("gradients/s", b / nhgdSeconds), ("b", b), ("ratio to sgd", nhgdSeconds / sgdSeconds)])]
    }

    /// Blocks ingested per cell: enough for two shrinks of the 2k-column buffer.
    static func blockCount(k: Int, b: Int) -> Int { max(4, 2 * ((2 * k + b - 1) / b) + 1) }

    static func run(_ cell: ScalingCell) throws -> [BenchmarkRecord] {
        switch cell.kind {
        case .synthetic: return try runSynthetic(cell)
        case .mlp: return try runMLP(cell)
        }
    }

    /// Synthetic logistic regression at p with per-feature strength e^{xⱼ} = 10⁻⁴ (so the data
    /// curvature matters), y after the inner SGD steps of the ingest phase.
    static func runSynthetic(_ cell: ScalingCell) throws -> [BenchmarkRecord] {
        let p = cell["p"], k = cell["k"], b = cell["b"]
        var rng = Xoshiro256StarStar(seed: 20_26)
        let problem = try SyntheticLogisticRegression.make(p: p, n: cell["n"], m: cell["m"], nonzerosPerSample: cell["s"],
                                                           using: &rng)
        let x = [Double](repeating: log(1e-4), count: p)
        // L ≤ ¼ maxᵢ‖aᵢ‖² + max e^x bounds every (minibatch) Hessian: Neumann's η = 1/L, SGD's too.
        var maxSquaredNorm = 0.0
        let samples = problem.data.inputs
        for i in 0..<samples.sampleCount {
            var total = 0.0
            for e in samples.rowStarts[i]..<samples.rowStarts[i + 1] { total += samples.values[e] * samples.values[e] }
            maxSquaredNorm = max(maxSquaredNorm, total)
        }
        let lipschitz = 0.25 * maxSquaredNorm + 1e-4
        var records = [BenchmarkRecord]()

        let loops = try innerLoops(problem, x: x, y: problem.initialInner(), rank: k, batch: b,
                                   steps: blockCount(k: k, b: b), stepSize: 1 / lipschitz)
        var nhgd = loops.estimator
        let y = loops.y, ingestSeconds = max(0, loops.nhgdSeconds - loops.sgdSeconds)
        records += stepRecords(cell, sgdSeconds: loops.sgdSeconds, nhgdSeconds: loops.nhgdSeconds)

        // Woodbury solve on the sketch's operator (factor built once, timed apart), each solve
        // alternating with a read probe over the factor's own storage (see ``readProbe``).
        let curvature = problem.regularizerCurvature(x: x, y: y).entries
        let (_, fy) = try problem.outerGradients(x: x, y: y)
        records.append(try woodbury(cell, sketch: nhgd.sketch, curvature: curvature, rightHandSide: fy, damping: 0))
        records += try components(cell, problem, x: x, y: y)

        // The estimates. NHGD: one estimate on the ingested sketch (outer gradients, factor,
        // solve, cross product); its outer iteration adds one step's sketch work.
        var estimates = [(String, [Double], Double)]()
        do {
            let (seconds, estimate) = try timed(repetitions(p: p)) { try nhgd.estimate(problem: problem, x: x, y: y, using: &rng) }
            estimates.append(("nhgd", estimate.hypergradient, seconds))
            records.append(record(cell, "nhgd", seconds: seconds,
                                  metrics: [("iteration seconds", seconds + ingestSeconds)]))
        }
        do {
            var cg = try ConjugateGradientHypergradient<SyntheticLogisticRegression>(iterations: 10, tolerance: 0,
                                                                                    warmStart: false, batchSize: b)
            let (seconds, estimate) = try timed(repetitions(p: p)) { try cg.estimate(problem: problem, x: x, y: y, using: &rng) }
            estimates.append(("cg-10", estimate.hypergradient, seconds))
            records.append(record(cell, "cg-10", seconds: seconds, metrics: [("iteration seconds", seconds)]))
        }
        do {
            var neumann = try NeumannHypergradient<SyntheticLogisticRegression>(terms: 10, stepSize: 1 / lipschitz,
                                                                               batchSize: b)
            let (seconds, estimate) = try timed(repetitions(p: p)) {
                try neumann.estimate(problem: problem, x: x, y: y, using: &rng)
            }
            estimates.append(("neumann-10", estimate.hypergradient, seconds))
            records.append(record(cell, "neumann-10", seconds: seconds, metrics: [("iteration seconds", seconds)]))
        }

        // Reference: exact where the dense Hessian fits the budget, else long full-batch CG.
        let denseBytes = cell.denseHessianBytes
        var reference: [Double]
        var referenceName: String
        var cg200: (seconds: Double, value: HypergradientEstimate)?
        if denseBytes <= Double(exactMemoryBudget) {
            // SyntheticLogisticRegression's closed-form Hessian stops at p = 4096; the exact
            // reference is wanted to p = 10⁴, so H is assembled from p full-batch HVPs.
            var exact = try ExactHypergradient<SyntheticLogisticRegression>(memoryBudget: exactMemoryBudget,
                                                                            assembly: .hessianVectorProducts)
            let (seconds, estimate) = try timed(1) { try exact.estimate(problem: problem, x: x, y: y, using: &rng) }
            reference = estimate.hypergradient
            referenceName = "exact"
            records.append(record(cell, "exact", seconds: seconds, metrics: [("bytes needed", denseBytes)],
                                  labels: [("reference", "exact")]))
        } else {
            records.append(record(cell, "exact", seconds: .nan, feasible: false, metrics: [("bytes needed", denseBytes)]))
            reference = []
            referenceName = "cg-200"
        }
        do {
            var long = try ConjugateGradientHypergradient<SyntheticLogisticRegression>(iterations: 200, tolerance: 1e-12,
                                                                                      warmStart: false, batchSize: nil)
            cg200 = try timed(1) { try long.estimate(problem: problem, x: x, y: y, using: &rng) }
            if referenceName == "cg-200" { reference = cg200!.value.hypergradient }
        }
        let cgAgreement = agreement(cg200!.value.hypergradient, reference)
        records.append(record(cell, "cg-200 (reference)", seconds: cg200!.seconds,
                              metrics: [("cosine", cgAgreement.cosine), ("relative error", cgAgreement.relativeError),
                                        ("hvps", Double(cg200!.value.oracleCalls.hessianVectorProducts))],
                              labels: [("reference", referenceName)]))
        for index in records.indices {
            guard let method = records[index].labels.first(where: { $0.0 == "method" })?.1,
                  let estimate = estimates.first(where: { $0.0 == method }) else { continue }
            let a = agreement(estimate.1, reference)
            records[index].metrics += [("cosine", a.cosine), ("relative error", a.relativeError)]
            records[index].labels.append(("reference", referenceName))
        }
        return records
    }

    /// `woodbury solve`: one `WoodburyFactorization.solve` on the sketch's operator, median
    /// of several, each run after a read probe over the factor itself; `woodbury build` (the
    /// operator's scaled copy of the buffer plus `factorized`, both repeated by every NHGD
    /// estimate) as a metric.
    static func woodbury(_ cell: ScalingCell, sketch: FrequentDirectionsSketch, curvature: [Double],
                         rightHandSide: [Double], damping: Double) throws -> BenchmarkRecord {
        let p = sketch.dimension
        var op: LowRankPlusDiagonal?, factorization: WoodburyFactorization?
        let buildSeconds = try time {
            op = try sketch.lowRankPlusDiagonal(adding: curvature)
            factorization = try op!.factorized(damping: damping)
        }
        let columns = op!.factor.columns
        var solution = [Double]()
        var solveTimes = [Double](), probeRates = [Double]()
        solution = try factorization!.solve(rightHandSide)  // warm-up
        for _ in 0..<max(3, repetitions(p: p) + 2) {
            probeRates.append(readProbe(op!.factor))
            solveTimes.append(try time { solution = try factorization!.solve(rightHandSide) })
        }
        blackHole(solution)
        let seconds = median(solveTimes)
        // Two passes over U (16pk) and 40p bytes of vectors (WoodburySuite.solveVectorBytes).
        let bytes = 16 * p * columns + WoodburySuite.solveVectorBytes(p: p) + 8 * columns * columns
        return record(cell, "woodbury solve", seconds: seconds,
                      metrics: [("bytes", Double(bytes)), ("GB/s", Double(bytes) / seconds / 1e9),
                                ("probe GB/s", median(probeRates) / 1e9), ("factor columns", Double(columns)),
                                ("build seconds", buildSeconds)])
    }

    /// Read bandwidth (bytes/s) of `cblas_ddot` between the two halves of `u`'s storage: the
    /// same memory the solve streams, so the probe and the solve see the same cache level and
    /// the same load from other tenants, and the cell's peak memory is not inflated by probe arrays.
    static func readProbe(_ u: Matrix) -> Double {
        let half = u.storage.count / 2
        var result = 0.0
        let seconds = time {
            result = u.storage.withUnsafeBufferPointer { s in cblas_ddot(Int32(half), s.baseAddress, 1, s.baseAddress! + half, 1) }
        }
        blackHole(result)
        return Double(16 * half) / seconds
    }

    /// The pieces every method shares: `outer gradients` (∇f) and `cross product` (J u), timed once.
    static func components<P: BilevelProblem>(_ cell: ScalingCell, _ problem: P, x: [Double], y: [Double]) throws -> [BenchmarkRecord] {
        var u = [Double]()
        let outer = try timed(repetitions(p: problem.innerDimension)) { u = try problem.outerGradients(x: x, y: y).y }
        var ju = [Double]()
        let cross = try timed(repetitions(p: problem.innerDimension)) { ju = try problem.crossProduct(x: x, y: y, u: u) }
        blackHole(ju)
        return [record(cell, "outer gradients", seconds: outer.seconds), record(cell, "cross product", seconds: cross.seconds)]
    }

    /// MLP hyper-cleaning of MNIST at hidden width h: one NHGD and one CG-10 estimate (same
    /// minibatch b) at the point the inner loop reached from the Glorot initialisation.
    static func runMLP(_ cell: ScalingCell) throws -> [BenchmarkRecord] {
        let k = cell["k"], b = cell["b"]
        var rng = Xoshiro256StarStar(seed: 7)
        let problem = try CleaningExperiment<TanhNetwork>.mnist(hiddenWidth: cell["h"], trainCount: cell["n"], validationCount: cell["m"],
                                                 testCount: 0, using: &rng).problem
        let p = problem.innerDimension
        let x = problem.initialOuter()
        var records = [BenchmarkRecord]()
        let loops = try innerLoops(problem, x: x, y: problem.initialInner(), rank: k, batch: b,
                                   steps: blockCount(k: k, b: b), stepSize: 0.1)
        var nhgd = loops.estimator
        let y = loops.y, ingestSeconds = max(0, loops.nhgdSeconds - loops.sgdSeconds)
        records += stepRecords(cell, sgdSeconds: loops.sgdSeconds, nhgdSeconds: loops.nhgdSeconds)
        let (_, fy) = try problem.outerGradients(x: x, y: y)
        records.append(try woodbury(cell, sketch: nhgd.sketch, curvature: problem.regularizerCurvature(x: x, y: y).entries,
                                    rightHandSide: fy, damping: 1e-3))
        records += try components(cell, problem, x: x, y: y)
        nhgd = try NaturalHypergradient(sketch: nhgd.sketch, damping: 1e-3, columns: nhgd.columns)
        let (nhgdSeconds, nhgdEstimate) = try timed(repetitions(p: p)) {
            try nhgd.estimate(problem: problem, x: x, y: y, using: &rng)
        }
        var cg = try ConjugateGradientHypergradient<MLPHyperCleaning>(iterations: 10, tolerance: 0, warmStart: false,
                                                                      batchSize: b)
        let (cgSeconds, cgEstimate) = try timed(repetitions(p: p)) { try cg.estimate(problem: problem, x: x, y: y, using: &rng) }
        let between = agreement(nhgdEstimate.hypergradient, cgEstimate.hypergradient)
        records.append(record(cell, "nhgd", seconds: nhgdSeconds,
                              metrics: [("iteration seconds", nhgdSeconds + ingestSeconds), ("cosine vs cg-10", between.cosine)]))
        records.append(record(cell, "cg-10", seconds: cgSeconds, metrics: [("iteration seconds", cgSeconds)]))
        records.append(record(cell, "exact", seconds: .nan, feasible: false,
                              metrics: [("bytes needed", cell.denseHessianBytes)]))
        return records
    }
}
