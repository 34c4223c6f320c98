import Foundation
import NaturalHypergradient
import NHGDReporting

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
    /// Coefficient c of the L2 regulariser c‖y‖² of hyper-cleaning (both models).
    public static let cleaningL2 = 3e-3
    /// The budget of the reference models of linear cleaning: L-BFGS to a gradient norm of
    /// 10⁻⁵ (the problem is strongly convex; it converges in well under 500 iterations).
    public static let linearReferenceSolver = try! InnerSolver(gradientTolerance: 1e-5, maxIterations: 500)
    /// The budget of the reference models of network cleaning: 60 L-BFGS iterations from the
    /// same seeded initialisation (a non-convex model has no unique optimum; every reference
    /// stops at the same budget, see Docs/cli.md).
    public static let networkReferenceSolver = try! InnerSolver(gradientTolerance: 1e-5, maxIterations: 60)

    /// Polled after every outer iteration (and its checkpoint): a signal number stops the run
    /// there with a ``RunInterruption``. By default the stop signals ``StopSignals`` caught;
    /// tests inject their own, since those are process-wide.
    public var stopRequest: @Sendable () -> Int32?

    public init(stopRequest: @escaping @Sendable () -> Int32? = { StopSignals.requested }) {
        self.stopRequest = stopRequest
    }

    public func run(_ configuration: RunConfiguration, progress: (TraceRecord) -> Void) throws -> RunOutcome {
        // With two or more threads the inner loop is pipelined (SGD on one worker, the sketch
        // on another), each with half the threads for BLAS; the reference fits use them all.
        // Idle OpenBLAS threads spin, so oversubscribing the cores costs more than it gives.
        BLAS.threadCount = configuration.threads
        var rng = Xoshiro256StarStar(seed: configuration.seed)
        switch configuration.task {
        case .clean(let noise):
            switch configuration.model {
            case .linear:
                let experiment = try makeCleaningExperiment(configuration, noise: noise, using: &rng)
                return try runCleaning(experiment, configuration, references: Self.linearReferenceSolver, progress: progress)
            case .mlp(let width):
                let experiment = try makeNetworkCleaningExperiment(configuration, hiddenWidth: width, noise: noise, using: &rng)
                return try runCleaning(experiment, configuration, references: Self.networkReferenceSolver, progress: progress)
            }
        case .regularize(let pair):
            let problem = try makeRegularizationProblem(configuration, pair: pair, using: &rng)
            return try runRegularization(problem, configuration, progress: progress)
        }
    }

    /// Refuses `exact` when its dense p × p Hessian would exceed its memory budget
    /// (``ExactHypergradient/defaultMemoryBudget``). p follows from the model and the data's
    /// shape; a `--data` file is read for its shape (its errors are left to the run).
    public func check(_ c: RunConfiguration) throws {
        guard c.estimator == .exact, let p = try? innerDimension(c) else { return }
        let needed = ExactHypergradient<DataHyperCleaning>.bytesNeeded(innerDimension: p)
        let allowed = ExactHypergradient<DataHyperCleaning>.defaultMemoryBudget
        if needed > allowed {
            throw EstimatorMemoryError(estimator: c.estimator, requirement: "a dense \(p) × \(p) inner Hessian",
                                       bytesNeeded: needed, bytesAllowed: allowed)
        }
    }

    /// p of the problem `c` describes, without building it.
    func innerDimension(_ c: RunConfiguration) throws -> Int {
        let features: Int, classes: Int
        if let path = c.dataFile {
            let data = try Dataset.load(csvAt: URL(fileURLWithPath: path))
            (features, classes) = (data.featureCount, data.classCount)
        } else if case .regularize(nil) = c.task {
            return 31
        } else {
            (features, classes) = (784, c.task.name == "clean" ? 10 : 2)
        }
        switch c.task {
        case .clean: return c.model.parameterCount(featureCount: features, classCount: classes)
        case .regularize: return features + 1
        }
    }

    // MARK: Problems

    /// Runs `body` on the user's data file; whatever goes wrong there (reading, parsing,
    /// splitting, the class count) becomes an ``UnusableInputError`` naming the file.
    func withUserData<T>(_ path: String, _ body: (Dataset) throws -> T) throws -> T {
        do {
            return try body(Dataset.load(csvAt: URL(fileURLWithPath: path)))
        } catch let DataError.file(_, reason) {
            throw UnusableInputError(option: "--data", path: path, reason: reason)
        } catch let error as DataError {
            throw UnusableInputError(option: "--data", path: path, reason: error.description)
        } catch let error as BilevelError {
            throw UnusableInputError(option: "--data", path: path, reason: error.description)
        }
    }

    func makeCleaningExperiment(_ c: RunConfiguration, noise: Double, using rng: inout Xoshiro256StarStar) throws
        -> CleaningExperiment<LinearModel<SoftmaxCrossEntropy>> {
        if let path = c.dataFile {
            return try withUserData(path) { data in
                let split = try c.split.resolved(for: .file(path, sampleCount: data.sampleCount, task: c.task))
                return try .standardized(data, trainCount: split.training, validationCount: split.validation,
                                         testCount: split.test, corruptionFraction: noise, l2: Self.cleaningL2, using: &rng)
            }
        }
        let split = try c.split.resolved(for: .mnist5k)
        return try .mnist(trainCount: split.training, validationCount: split.validation, testCount: split.test,
                          corruptionFraction: noise, l2: Self.cleaningL2, using: &rng)
    }

    func makeNetworkCleaningExperiment(_ c: RunConfiguration, hiddenWidth: Int, noise: Double,
                                       using rng: inout Xoshiro256StarStar) throws -> CleaningExperiment<TanhNetwork> {
        if let path = c.dataFile {
            return try withUserData(path) { data in
                let split = try c.split.resolved(for: .file(path, sampleCount: data.sampleCount, task: c.task))
                return try .standardized(data, hiddenWidth: hiddenWidth, trainCount: split.training,
                                         validationCount: split.validation, testCount: split.test,
                                         corruptionFraction: noise, l2: Self.cleaningL2, using: &rng)
            }
        }
        let split = try c.split.resolved(for: .mnist5k)
        return try .mnist(hiddenWidth: hiddenWidth, trainCount: split.training, validationCount: split.validation,
                          testCount: split.test, corruptionFraction: noise, l2: Self.cleaningL2, using: &rng)
    }

    func makeRegularizationProblem(_ c: RunConfiguration, pair: DigitPair?, using rng: inout Xoshiro256StarStar) throws
        -> LogisticRegression {
        if let path = c.dataFile {
            return try withUserData(path) { data in
                guard data.classCount == 2 else {
                    throw DataError.file(path: path, reason: "regularize needs two classes (labels 0 and 1), found \(data.classCount)")
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

    func runCleaning<Model>(_ experiment: CleaningExperiment<Model>, _ c: RunConfiguration, references solver: InnerSolver,
                            progress: (TraceRecord) -> Void) throws -> RunOutcome
    where Model: SecondOrderSampleLosses & ClassifierSampleLosses {
        let problem = experiment.problem
        guard experiment.corruption.changedCount > 0 else {
            throw BilevelError.invalidHyperparameter(name: "noise", value: "0", requirement: "no label was corrupted")
        }
        let (x, y, trace) = try optimize(problem, c, progress: progress)
        let references = try experiment.references(learnedOuter: x, solver: solver)
        let final = try problem.metrics(x: x, y: y)
        return RunOutcome(trace: trace, results: [
            RunResult("corrupted_accuracy", references.corrupted),
            RunResult("oracle_accuracy", references.oracle),
            RunResult("oracle_unchanged_accuracy", references.oracleUnchanged),
            RunResult("cleaned_accuracy", references.cleaned),
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

    func optimize<P: SecondOrderBilevelProblem>(_ problem: P, _ c: RunConfiguration, progress: (TraceRecord) -> Void)
        throws -> (x: [Double], y: [Double], trace: [TraceRecord]) {
        var configuration = BilevelOptimizerConfiguration()
        configuration.outerIterations = c.outerSteps
        configuration.innerSteps = c.innerSteps
        configuration.batchSize = c.batchSize
        configuration.innerLearningRate = c.innerLearningRate
        configuration.outerLearningRate = c.outerLearningRate
        configuration.seed = c.seed
        configuration.blasThreads = max(1, c.threads / 2)
        configuration.pipelined = c.threads >= 2

        func run<E: CheckpointableEstimator>(_ estimator: E) throws -> (x: [Double], y: [Double], trace: [TraceRecord])
            where E.Problem == P {
            var optimizer = try BilevelOptimizer(problem: problem, estimator: estimator, configuration: configuration)
            var trace: [TraceRecord] = []
            if let path = c.resumeFile {
                try resume(&optimizer, from: path, c)
                trace = optimizer.trace.map { TraceRecord(estimator: c.estimator, $0) }
            }
            while optimizer.trace.count < configuration.outerIterations {
                let record = try optimizer.step()
                if let path = c.checkpointFile {
                    try AtomicFile.write(optimizer.checkpoint(identity: c.checkpointIdentity), to: path)
                }
                let traced = TraceRecord(estimator: c.estimator, record)
                trace.append(traced)
                progress(traced)
                if let signal = stopRequest() {
                    throw RunInterruption(signal: signal, completedIterations: record.iteration,
                                          totalIterations: configuration.outerIterations, checkpointFile: c.checkpointFile)
                }
            }
            return (optimizer.x, optimizer.y, trace)
        }

        let budget = Self.secondOrderBudget
        func natural() throws -> NaturalHypergradient<P, FrequentDirectionsSketch> {
            let sketch = try FrequentDirectionsSketch(dimension: problem.innerDimension, rank: c.rank, compensation: .scalar)
            let compression: IngestCompression = c.sketchColumns.map { columns in
                c.compression == .sampled ? .sampledColumns(columns: columns) : .gaussian(columns: columns)
            } ?? .none
            return try NaturalHypergradient<P, FrequentDirectionsSketch>(
                sketch: sketch, damping: c.damping,
                columns: CurvatureColumnRequest(compression: compression, interval: c.sketchInterval, labels: c.fisher,
                                                forgetting: .constant(c.forgetting), seed: c.seed))
        }
        switch c.estimator {
        case .nhgd:
            return try run(natural())
        case .nhgdPCG:
            return try run(PreconditionedNaturalHypergradient(natural(), steps: c.pcgSteps, batchSize: c.pcgBatchSize))
        case .cg:
            return try run(ConjugateGradientHypergradient<P>(iterations: budget))
        case .neumann:
            return try run(NeumannHypergradient<P>(terms: budget, stepSize: try safeStepSize(problem), batchSize: c.batchSize))
        case .amigo:
            return try run(AmIGOHypergradient<P>(steps: budget, stepSize: try safeStepSize(problem), batchSize: c.batchSize))
        case .exact:
            return try run(ExactHypergradient<P>())
        case .soba:
            return try run(SOBAHypergradient<P>(stepSize: try safeStepSize(problem), batchSize: c.batchSize))
        case .qnbo:
            return try run(QuasiNewtonHypergradient<P>(quasiNewtonSteps: budget))
        case .nbo:
            return try run(CurvatureAwareHypergradient<P>(iterations: budget))
        case .nystrom:
            return try run(NystromHypergradient<P>(rank: c.nystromRank, shift: c.nystromShift))
        }
    }

    /// Restores `optimizer` from the checkpoint at `path`; whatever is wrong with it (unreadable,
    /// not a checkpoint, another version, truncated, corrupt, of another command line or
    /// problem) is a ``CheckpointRejection`` and leaves the optimiser as it was.
    func resume<E: CheckpointableEstimator>(_ optimizer: inout BilevelOptimizer<E>, from path: String, _ c: RunConfiguration)
        throws {
        let bytes: [UInt8]
        do {
            bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CheckpointRejection(path: path, reason: FileManager.default.fileExists(atPath: path)
                ? "it cannot be read" : "no such file")
        }
        do {
            try optimizer.restore(checkpoint: bytes, identity: c.checkpointIdentity)
        } catch let error as CheckpointError {
            throw CheckpointRejection(path: path, reason: error.description)
        }
    }

    /// Hessian-vector products (or quasi-Newton steps) per estimate for the baselines: the
    /// "-10" of CG-10, Neumann-10, AmIGO-10.
    public static let secondOrderBudget = 10
}
