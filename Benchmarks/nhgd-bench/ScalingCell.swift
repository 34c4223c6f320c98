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
    /// the sketch's `(2k + 1)·p` doubles (read in place by the solve), the inner loop's
    /// p × (1 + c) column blocks (two when columns come at every step, one otherwise) and about
    /// 12 length-p vectors (x, y, Adam's moments, gradients, solutions, CG and Neumann work
    /// vectors), plus the sparse data `(n + m)·s·16` bytes.
    var modelBytes: Int {
        let p = parameterCount, k = self["k"]
        let data = kind == .synthetic ? (self["n"] + self["m"]) * self["s"] * 16 : 0
        let blocks = columnInterval == 1 ? 2 : 1
        return 8 * p * (2 * k + 1 + blocks * (1 + columnsPerStep) + 12) + data
    }

    /// NHGD's column budget in the cell: c Gaussian columns (key `c`, default 4) every e inner
    /// steps (key `e`, default 5) of the T steps of an outer iteration (key `t`, default 20).
    var columnsPerStep: Int { values["c"] ?? 4 }
    var columnInterval: Int { values["e"] ?? 5 }
    var innerSteps: Int { values["t"] ?? 20 }

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

    static func run(_ cell: ScalingCell) throws -> [BenchmarkRecord] {
        switch cell.kind {
        case .synthetic: return try runSynthetic(cell)
        case .mlp: return try runMLP(cell)
        }
    }

    /// Synthetic logistic regression at p with per-feature strength e^{xⱼ} = 10⁻⁴ (so the data
    /// curvature matters; a uniform diagonal, so NHGD's capacitance comes from its Gram matrix).
    static func runSynthetic(_ cell: ScalingCell) throws -> [BenchmarkRecord] {
        var rng = Xoshiro256StarStar(seed: 20_26)
        let problem = try SyntheticLogisticRegression.make(p: cell["p"], n: cell["n"], m: cell["m"],
                                                           nonzerosPerSample: cell["s"], using: &rng)
        // L ≤ ¼ maxᵢ‖aᵢ‖² + max e^x bounds every (minibatch) Hessian: Neumann's η = 1/L, SGD's too.
        var maxSquaredNorm = 0.0
        let samples = problem.data.inputs
        for i in 0..<samples.sampleCount {
            var total = 0.0
            for e in samples.rowStarts[i]..<samples.rowStarts[i + 1] { total += samples.values[e] * samples.values[e] }
            maxSquaredNorm = max(maxSquaredNorm, total)
        }
        let lipschitz = 0.25 * maxSquaredNorm + 1e-4
        return try measure(cell, problem, x: [Double](repeating: log(1e-4), count: cell["p"]),
                           innerStepSize: 1 / lipschitz, neumannStep: 1 / lipschitz, damping: 0,
                           exactAssembly: .hessianVectorProducts)
    }

    /// MLP hyper-cleaning of MNIST at hidden width h from the Glorot initialisation.
    static func runMLP(_ cell: ScalingCell) throws -> [BenchmarkRecord] {
        var rng = Xoshiro256StarStar(seed: 7)
        let problem = try CleaningExperiment<TanhNetwork>.mnist(
            hiddenWidth: cell["h"], trainCount: cell["n"], validationCount: cell["m"], testCount: 0, using: &rng).problem
        return try measure(cell, problem, x: problem.initialOuter(), innerStepSize: 0.1,
                           neumannStep: try safeStepSize(problem, iterations: 10), damping: 1e-3, exactAssembly: nil)
    }

    /// The measurements of a cell, in phases so that at most one method's state is alive at a
    /// time (the p = 10⁷ cells must fit):
    ///
    /// 1. NHGD (rank k, Frequent Directions with scalar compensation, the cell's column budget)
    ///    runs pipelined outer iterations (x fixed: an outer step of 10⁻¹²) until its sketch has
    ///    shrunk; then a whole shrink cycle (ℓ columns, at least `reps` iterations) is timed
    ///    (`nhgd iteration` = the mean step minus the shared SGD loop), and its estimate at the
    ///    point reached is timed alone (`nhgd`);
    /// 2. from the same point, the plain SGD loop (`sgd loop`, one combination column per step)
    ///    and CG-10's outer iteration (`cg-10 iteration`, minibatch b HVPs) are timed;
    /// 3. the estimates of CG-10, Neumann-10 and Nyström (k = 5 coordinates, ρ = 10⁻³) at that
    ///    point, against exact (while it fits) or CG-200.
    static func measure<P: SecondOrderBilevelProblem>(
        _ cell: ScalingCell, _ problem: P, x: [Double], innerStepSize: Double, neumannStep: Double, damping: Double,
        exactAssembly: ExactHypergradient<P>.Assembly?
    ) throws -> [BenchmarkRecord] {
        let p = problem.innerDimension, k = cell["k"], b = cell["b"]
        let reps = repetitions(p: p)
        var rng = Xoshiro256StarStar(seed: 99)
        var configuration = BilevelOptimizerConfiguration()
        configuration.innerSteps = cell.innerSteps
        configuration.batchSize = b
        configuration.innerLearningRate = innerStepSize
        configuration.outerLearningRate = 1e-12
        configuration.outerIterations = .max
        configuration.evaluateEvery = 0
        configuration.pipelined = true
        configuration.blasThreads = 1
        var records = [BenchmarkRecord]()

        // 1. NHGD.
        let request = CurvatureColumnRequest(compression: .gaussian(columns: cell.columnsPerStep),
                                             interval: cell.columnInterval, forgetting: .constant(0.1), seed: 3)
        var natural: BilevelOptimizer<NaturalHypergradient<P, FrequentDirectionsSketch>>? = try BilevelOptimizer(
            problem: problem,
            estimator: NaturalHypergradient(sketch: FrequentDirectionsSketch(dimension: p, rank: k, compensation: .scalar),
                                            damping: damping, columns: request),
            configuration: configuration, x: x)
        var warmUp = 0
        while natural!.estimator.sketch.shrinkCount == 0 && warmUp < 1000 {
            _ = try natural!.step()
            warmUp += 1
        }
        // Timed over a whole shrink cycle (ℓ columns), so the shrink's cost is amortised as in a run.
        let perIteration = cell.columnsPerStep * ((cell.innerSteps + cell.columnInterval - 1) / cell.columnInterval)
        let cycle = max(reps, (k + perIteration - 1) / perIteration)
        let cycleSeconds = try time { for _ in 0..<cycle { _ = try natural!.step() } }
        let stepTimes = [cycleSeconds / Double(cycle)]
        let y = natural!.y
        var nhgd = natural!.estimator
        let workspace = natural!.innerWorkspaceBytes
        natural = nil
        let (nhgdSeconds, nhgdEstimate) = try timed(reps) { try nhgd.estimate(problem: problem, x: x, y: y, using: &rng) }
        let (_, fy) = try problem.outerGradients(x: x, y: y)
        records.append(try woodbury(cell, sketch: &nhgd, curvature: problem.regularizerCurvature(x: x, y: y),
                                    rightHandSide: fy, damping: damping))
        let columns = Double(nhgd.sketch.filledColumns), shrinks = Double(nhgd.sketch.shrinkCount)
        nhgd = try NaturalHypergradient(sketch: FrequentDirectionsSketch(dimension: 1, rank: 1), columns: request)

        // 2. The shared SGD loop and CG-10's outer iteration, from the same point.
        var plain: BilevelOptimizer<ConjugateGradientHypergradient<P>>? = try BilevelOptimizer(
            problem: problem, estimator: ConjugateGradientHypergradient<P>(iterations: 10, tolerance: 0, warmStart: false,
                                                                           batchSize: b),
            configuration: configuration, x: x, y: y)
        var sgdTimes = [Double](), cgTimes = [Double]()
        for _ in 0..<reps {
            sgdTimes.append(try time { try plain!.runInnerLoop() })
            cgTimes.append(try time { _ = try plain!.step() })
        }
        plain = nil
        let sgd = median(sgdTimes), nhgdIteration = median(stepTimes) - sgd, cgIteration = median(cgTimes) - sgd
        records.append(record(cell, "sgd loop", seconds: sgd,
                              metrics: [("T", Double(cell.innerSteps)), ("b", Double(b)), ("workspace bytes", Double(workspace))]))
        records.append(record(cell, "nhgd iteration", seconds: nhgdIteration,
                              metrics: [("step seconds", median(stepTimes)), ("ratio to cg-10", nhgdIteration / cgIteration),
                                        ("columns per iteration", Double(perIteration)), ("iterations timed", Double(cycle)),
                                        ("buffer columns", columns), ("shrinks", shrinks)]))
        records.append(record(cell, "cg-10 iteration", seconds: cgIteration, metrics: [("step seconds", median(cgTimes))]))
        records += try components(cell, problem, x: x, y: y)

        // 3. The estimates, against the reference.
        var estimates = [("nhgd", nhgdEstimate.hypergradient, nhgdSeconds)]
        var cg = try ConjugateGradientHypergradient<P>(iterations: 10, tolerance: 0, warmStart: false, batchSize: b)
        let (cgSeconds, cgEstimate) = try timed(reps) { try cg.estimate(problem: problem, x: x, y: y, using: &rng) }
        estimates.append(("cg-10", cgEstimate.hypergradient, cgSeconds))
        var neumann = try NeumannHypergradient<P>(terms: 10, stepSize: neumannStep, batchSize: b)
        let (neumannSeconds, neumannEstimate) = try timed(reps) { try neumann.estimate(problem: problem, x: x, y: y, using: &rng) }
        estimates.append(("neumann-10", neumannEstimate.hypergradient, neumannSeconds))
        var nystrom = try NystromHypergradient<P>(rank: 5, shift: 1e-3, columns: .coordinates, batchSize: b)
        let (nystromSeconds, nystromEstimate) = try timed(reps) { try nystrom.estimate(problem: problem, x: x, y: y, using: &rng) }
        estimates.append(("nystrom", nystromEstimate.hypergradient, nystromSeconds))
        for (name, _, seconds) in estimates { records.append(record(cell, name, seconds: seconds)) }

        // Reference: exact where the dense Hessian fits the budget, else long full-batch CG.
        var reference: [Double] = []
        var referenceName = "cg-200"
        if let exactAssembly, cell.denseHessianBytes <= Double(exactMemoryBudget) {
            var exact = try ExactHypergradient<P>(memoryBudget: exactMemoryBudget, assembly: exactAssembly)
            let (seconds, estimate) = try timed(1) { try exact.estimate(problem: problem, x: x, y: y, using: &rng) }
            reference = estimate.hypergradient
            referenceName = "exact"
            records.append(record(cell, "exact", seconds: seconds, metrics: [("bytes needed", cell.denseHessianBytes)],
                                  labels: [("reference", "exact")]))
        } else {
            records.append(record(cell, "exact", seconds: .nan, feasible: false, metrics: [("bytes needed", cell.denseHessianBytes)]))
        }
        var long = try ConjugateGradientHypergradient<P>(iterations: 200, tolerance: 1e-12, warmStart: false, batchSize: nil)
        let cg200 = try timed(1) { try long.estimate(problem: problem, x: x, y: y, using: &rng) }
        if referenceName == "cg-200" { reference = cg200.value.hypergradient }
        let cgAgreement = agreement(cg200.value.hypergradient, reference)
        records.append(record(cell, "cg-200 (reference)", seconds: cg200.seconds,
                              metrics: [("cosine", cgAgreement.cosine), ("relative error", cgAgreement.relativeError),
                                        ("hvps", Double(cg200.value.oracleCalls.hessianVectorProducts))],
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

    /// `woodbury solve`: one solve with NHGD's factorisation of `(F̂ + ∇²R + λI)⁻¹`, which
    /// reads the sketch's buffer in place, median of several; `build seconds` is the
    /// `inverse(adding:damping:)` that precedes it in an estimate (an m×m Cholesky factor of
    /// the capacitance the sketch keeps, for a uniform diagonal).
    static func woodbury<P: BilevelProblem>(
        _ cell: ScalingCell, sketch nhgd: inout NaturalHypergradient<P, FrequentDirectionsSketch>, curvature: Diagonal,
        rightHandSide: [Double], damping: Double
    ) throws -> BenchmarkRecord {
        let p = nhgd.sketch.dimension
        var sketch = nhgd.sketch
        var factorization: WoodburyFactorization?
        let buildSeconds = try time { factorization = try sketch.inverse(adding: curvature, damping: damping) }
        let columns = factorization!.rank
        var solution = try factorization!.solve(rightHandSide)  // warm-up
        var solveTimes = [Double]()
        for _ in 0..<max(3, repetitions(p: p) + 2) {
            solveTimes.append(try time { solution = try factorization!.solve(rightHandSide) })
        }
        blackHole(solution)
        let seconds = median(solveTimes)
        // Two passes over the buffer's m columns (16pm) and 24p bytes of vectors (a uniform D).
        let bytes = 16 * p * columns + 24 * p + 8 * columns * columns
        return record(cell, "woodbury solve", seconds: seconds,
                      metrics: [("bytes", Double(bytes)), ("GB/s", Double(bytes) / seconds / 1e9),
                                ("factor columns", Double(columns)), ("build seconds", buildSeconds)])
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
}
