import Foundation
import NaturalHypergradient

/// The runner `nhgd` uses: builds the problem for the task, the estimator by name and a
/// ``BilevelOptimizer``, runs it, and trains the reference models the report compares against.
///
/// Reference models are trained to convergence by ``InnerSolver`` (full-batch L-BFGS) at fixed
/// weights, so all three accuracies of `clean` come from the same solver:
/// - `corrupted_accuracy`: every training sample with weight σ(30) ≈ 1;
/// - `oracle_accuracy`: weight ≈ 1 on the clean subset (samples whose label the corruption did not
///   replace), ≈ 0 (σ(−30)) on the others;
/// - `oracle_unchanged_accuracy`: the same on samples whose label did not change (a replaced label
///   equals the true one with probability 1/K, and such samples are clean in fact);
/// - `cleaned_accuracy`: the weights σ(x) that hyper-cleaning learned.
public struct NumericalExperimentRunner: ExperimentRunner {
    /// Coefficient c of the L2 regulariser c‖Y‖² of hyper-cleaning's softmax regression.
    public static let cleaningL2 = 3e-3

    public init() {}

    public func run(_ configuration: RunConfiguration, progress: (TraceRecord) -> Void) throws -> RunOutcome {
        // With two or more threads the inner loop is pipelined (SGD on one worker, the sketch
        // on another), each with half the threads for BLAS; the reference fits use them all.
        // Idle OpenBLAS threads spin, so oversubscribing the cores costs more than it gives.
        BLAS.threadCount = configuration.threads
        var rng = Xoshiro256StarStar(seed: configuration.seed)
        switch configuration.task {
        case .clean(let noise):
            let problem = try makeCleaningProblem(configuration, noise: noise, using: &rng)
            return try runCleaning(problem, configuration, progress: progress)
        case .regularize(let pair):
            let problem = try makeRegularizationProblem(configuration, pair: pair, using: &rng)
            return try runRegularization(problem, configuration, progress: progress)
        }
    }

    // MARK: Problems

    /// Runs `body` on the user's data file; whatever goes wrong there (reading, parsing,
    /// splitting, the class count) becomes an ``UnusableInputError`` naming the file.
    func withUserData<T>(_ path: String, _ body: (Dataset) throws -> T) throws -> T {
        do {
            return try body(Dataset.load(csvAt: URL(fileURLWithPath: path)))
        } catch let BilevelError.data(_, reason) {
            throw UnusableInputError(option: "--data", path: path, reason: reason)
        } catch let error as BilevelError {
            throw UnusableInputError(option: "--data", path: path, reason: error.description)
        }
    }

    func makeCleaningProblem(_ c: RunConfiguration, noise: Double, using rng: inout Xoshiro256StarStar) throws
        -> DataHyperCleaning {
        if let path = c.dataFile {
            return try withUserData(path) { data in
                let split = try c.split.resolved(for: .file(path, sampleCount: data.sampleCount, task: c.task))
                let parts = try data.split(trainCount: split.training, validationCount: split.validation,
                                           testCount: split.test, using: &rng)
                let scaler = try Standardization(fittedTo: parts.training)
                let (corrupted, record) = try scaler.apply(to: parts.training).withBiasFeature()
                    .corruptingLabels(fraction: noise, using: &rng)
                return try DataHyperCleaning(
                    training: corrupted, corruption: record,
                    validation: scaler.apply(to: parts.validation).withBiasFeature(),
                    test: split.test > 0 ? scaler.apply(to: parts.test).withBiasFeature() : nil,
                    l2: Self.cleaningL2)
            }
        }
        let split = try c.split.resolved(for: .mnist5k)
        return try DataHyperCleaning.mnist(trainCount: split.training, validationCount: split.validation,
                                           testCount: split.test, corruptionFraction: noise, l2: Self.cleaningL2,
                                           using: &rng)
    }

    func makeRegularizationProblem(_ c: RunConfiguration, pair: DigitPair?, using rng: inout Xoshiro256StarStar) throws
        -> LogisticRegression {
        if let path = c.dataFile {
            return try withUserData(path) { data in
                guard data.classCount == 2 else {
                    throw BilevelError.data(file: path, reason: "regularize needs two classes (labels 0 and 1), found \(data.classCount)")
                }
                let split = try c.split.resolved(for: .file(path, sampleCount: data.sampleCount, task: c.task))
                return try LogisticRegression.standardized(data, trainCount: split.training, validationCount: split.validation,
                                                           testCount: split.test, using: &rng)
            }
        }
        if let pair {
            let split = try c.split.resolved(for: .mnistPair(pair))
            return try LogisticRegression.mnistPair(positive: pair.second, negative: pair.first,
                                                    trainCount: split.training, validationCount: split.validation,
                                                    testCount: split.test, using: &rng)
        }
        let split = try c.split.resolved(for: .breastCancer)
        return try LogisticRegression.breastCancer(trainCount: split.training, validationCount: split.validation,
                                                   testCount: split.test, using: &rng)
    }

    // MARK: Tasks

    func runCleaning(_ problem: DataHyperCleaning, _ c: RunConfiguration, progress: (TraceRecord) -> Void) throws
        -> RunOutcome {
        let (x, y, trace) = try optimize(problem, c, progress: progress)
        guard let corruption = problem.corruption else {
            throw BilevelError.invalidHyperparameter(name: "noise", value: "0", requirement: "no label was corrupted")
        }
        let solver = try InnerSolver(gradientTolerance: 1e-5, maxIterations: 500)
        let n = problem.trainingCount
        func testAccuracy(_ weights: [Double]) throws -> Double {
            let fit = try solver.minimize(problem, x: weights)
            return try problem.metrics(x: weights, y: fit.y)["test_accuracy"] ?? .nan
        }
        let corrupted = try testAccuracy([Double](repeating: 30, count: n))
        let oracle = try testAccuracy(corruption.replaced.map { $0 ? -30 : 30 })
        let oracleUnchanged = try testAccuracy(corruption.changed.map { $0 ? -30 : 30 })
        let cleaned = try testAccuracy(x)
        let final = try problem.metrics(x: x, y: y)
        return RunOutcome(trace: trace, results: [
            RunResult("corrupted_accuracy", corrupted),
            RunResult("oracle_accuracy", oracle),
            RunResult("oracle_unchanged_accuracy", oracleUnchanged),
            RunResult("cleaned_accuracy", cleaned),
            RunResult("auroc", final["auroc"] ?? .nan),
            RunResult("sgd_test_accuracy", final["test_accuracy"] ?? .nan),
        ])
    }

    func runRegularization(_ problem: LogisticRegression, _ c: RunConfiguration, progress: (TraceRecord) -> Void) throws
        -> RunOutcome {
        let solver = try InnerSolver(gradientTolerance: 1e-8, maxIterations: 1000)
        let x0 = problem.initialOuter()
        let before = try problem.metrics(x: x0, y: solver.minimize(problem, x: x0).y)
        let (x, _, trace) = try optimize(problem, c, progress: progress)
        let after = try problem.metrics(x: x, y: solver.minimize(problem, x: x).y)
        var results: [RunResult] = []
        for key in ["validation_loss", "validation_accuracy", "test_loss", "test_accuracy"] {
            if let b = before[key] { results.append(RunResult("\(key)_before", b)) }
            if let a = after[key] { results.append(RunResult("\(key)_after", a)) }
        }
        return RunOutcome(trace: trace, results: results)
    }

    // MARK: Estimators and the optimiser

    func optimize<P: DenseHessianProblem>(_ problem: P, _ c: RunConfiguration, progress: (TraceRecord) -> Void) throws
        -> (x: [Double], y: [Double], trace: [TraceRecord]) {
        var configuration = BilevelOptimizerConfiguration()
        configuration.outerIterations = c.outerSteps
        configuration.innerSteps = c.innerSteps
        configuration.batchSize = c.batchSize
        configuration.innerLearningRate = c.innerLearningRate
        configuration.outerLearningRate = c.outerLearningRate
        configuration.seed = c.seed
        configuration.blasThreads = max(1, c.threads / 2)
        configuration.pipelined = c.threads >= 2

        func run<E: HypergradientEstimator>(_ estimator: E) throws -> (x: [Double], y: [Double], trace: [TraceRecord])
            where E.Problem == P {
            var optimizer = try BilevelOptimizer(problem: problem, estimator: estimator, configuration: configuration)
            var trace: [TraceRecord] = []
            _ = try withoutActuallyEscaping(progress) { report in
                try optimizer.run { record in
                    let traced = TraceRecord(estimator: c.estimator, record)
                    trace.append(traced)
                    report(traced)
                }
            }
            return (optimizer.x, optimizer.y, trace)
        }

        let budget = Self.secondOrderBudget
        switch c.estimator {
        case .nhgd:
            let sketch = try FrequentDirectionsSketch(
                dimension: problem.innerDimension, rank: c.rank, compensation: .scalar,
                compression: c.sketchColumns.map { columns in
                    c.compression == .sampled ? .sampledColumns(columns: columns) : .gaussian(columns: columns)
                } ?? .none,
                seed: c.seed)
            return try run(NaturalHypergradient<P, FrequentDirectionsSketch>(
                sketch: sketch, damping: c.damping, forgetting: .constant(c.forgetting)))
        case .cg:
            return try run(ConjugateGradientHypergradient<P>(iterations: budget))
        case .neumann:
            let step = try Self.safeStepSize(problem)
            return try run(NeumannHypergradient<P>(terms: budget, stepSize: step, batchSize: c.batchSize))
        case .amigo:
            let step = try Self.safeStepSize(problem)
            return try run(AmIGOHypergradient<P>(steps: budget, stepSize: step, batchSize: c.batchSize))
        case .exact:
            return try run(ExactHypergradient<P>())
        case .soba:
            let step = try Self.safeStepSize(problem)
            return try run(SOBAHypergradient<P>(stepSize: step, batchSize: c.batchSize))
        case .qnbo:
            return try run(QuasiNewtonHypergradient<P>(quasiNewtonSteps: budget))
        case .nbo:
            return try run(CurvatureAwareHypergradient<P>(iterations: budget))
        }
    }

    /// Hessian-vector products (or quasi-Newton steps) per estimate for the baselines: the
    /// "-10" of CG-10, Neumann-10, AmIGO-10.
    public static let secondOrderBudget = 10

    /// `0.5 / L` with `L` the largest eigenvalue of the full-batch inner Hessian at the
    /// problem's starting point, estimated by 30 power iterations (``largestHessianEigenvalue(of:x:y:iterations:seed:)``;
    /// Neumann, AmIGO and SOBA need η ≤ 1/L; the factor ½ leaves room for L to grow as the weights move).
    static func safeStepSize<P: SecondOrderBilevelProblem>(_ problem: P) throws -> Double {
        let lambda = try largestHessianEigenvalue(
            of: problem, x: problem.initialOuter(), y: problem.initialInner(), iterations: 30)
        return 0.5 / max(lambda, .leastNormalMagnitude)
    }
}
