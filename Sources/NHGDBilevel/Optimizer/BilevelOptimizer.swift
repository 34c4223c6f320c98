import Dispatch
import NHGDLinearAlgebra

/// The outer loop of hypergradient descent with warm-started inner SGD (ALGORITHMS.md §3):
///
/// ```
/// for t = 1 … outerIterations:
///     for s = 1 … T:   draw B; G = [gᵢ]_{i∈B}; y ← y − η((1/b) Σ ωᵢ gᵢ + ∇ᵧR);  estimator.observe(G, ω)
///     d = estimator.estimate(x, y);   x ← update(x, d)
/// ```
///
/// **Parallel optimise-and-approximate.** With `pipelined` on, `observe` for step s (the
/// Fisher sketch update) runs on a second worker while step s+1 computes its gradients, with
/// two gradient buffers in flight. Because the sketch never feeds back into the inner SGD
/// and blocks reach it in order, the iterates are bit-for-bit those of the sequential mode.
public struct BilevelOptimizer<Estimator: HypergradientEstimator> {
    public typealias Problem = Estimator.Problem

    public let problem: Problem
    public let configuration: BilevelOptimizerConfiguration
    /// The current outer variable (hyperparameters).
    public private(set) var x: [Double]
    /// The current inner variable (model parameters).
    public private(set) var y: [Double]
    /// Records of the outer iterations run so far.
    public private(set) var trace: [OuterIterationRecord] = []
    /// Cumulative oracle calls.
    public private(set) var oracleCalls = OracleCounts()
    /// Cumulative optimisation wall time in seconds.
    public private(set) var seconds = 0.0

    private let estimatorBox: EstimatorBox<Estimator>
    private var rng: Xoshiro256StarStar
    private var outerState: OuterUpdateState
    private var sampler: MinibatchSampler
    private let workspace: InnerWorkspace

    /// The estimator (a copy; the optimiser owns the live one).
    public var estimator: Estimator { estimatorBox.estimator }

    /// - Throws: `invalidHyperparameter` for a bad configuration, `dimensionMismatch` or
    ///   `nonFinite` for bad starting points.
    public init(problem: Problem, estimator: Estimator, configuration: BilevelOptimizerConfiguration = .init(),
                x: [Double]? = nil, y: [Double]? = nil) throws {
        try configuration.validate()
        let x0 = x ?? problem.initialOuter(), y0 = y ?? problem.initialInner()
        try validatePoint(problem, x: x0, y: y0, "BilevelOptimizer")
        guard problem.trainingCount > 0 else {
            throw BilevelError.invalidHyperparameter(name: "trainingCount", value: "0", requirement: "the problem has no training samples")
        }
        self.problem = problem
        self.configuration = configuration
        self.x = x0
        self.y = y0
        self.estimatorBox = EstimatorBox(estimator)
        var rng = Xoshiro256StarStar(seed: configuration.seed)
        self.sampler = MinibatchSampler(count: problem.trainingCount, batchSize: configuration.batchSize, using: &rng)
        self.rng = rng
        self.outerState = OuterUpdateState(rule: configuration.outerUpdate, dimension: x0.count)
        self.workspace = InnerWorkspace(p: problem.innerDimension, b: sampler.batchSize)
    }

    /// Runs the remaining outer iterations, calling `progress` after each one.
    @discardableResult
    public mutating func run(progress: ((OuterIterationRecord) -> Void)? = nil) throws -> [OuterIterationRecord] {
        while trace.count < configuration.outerIterations {
            let record = try step()
            progress?(record)
        }
        return trace
    }

    /// One outer iteration: T inner steps, one estimate, one outer update, with OpenBLAS at
    /// ``BilevelOptimizerConfiguration/blasThreads`` threads.
    public mutating func step() throws -> OuterIterationRecord {
        guard let threads = configuration.blasThreads else { return try unpinnedStep() }
        return try BLAS.withThreadCount(threads) { try unpinnedStep() }
    }

    private mutating func unpinnedStep() throws -> OuterIterationRecord {
        let start = monotonicSeconds()
        try runInnerLoop()
        let outerLoss = try problem.outerValue(x: x, y: y)
        let estimate = try estimatorBox.estimator.estimate(problem: problem, x: x, y: y, using: &rng)
        try requireCount(estimate.hypergradient, x.count, "BilevelOptimizer", "hypergradient")
        var candidate = x
        outerState.apply(estimate.hypergradient, learningRate: configuration.outerLearningRate, to: &candidate)
        if candidate.firstNonFiniteIndex != nil {
            throw BilevelError.diverged(stage: "outer update (iteration \(trace.count + 1))",
                                        hint: "the outer learning rate \(configuration.outerLearningRate) is too large; lower it")
        }
        x = candidate
        oracleCalls += estimate.oracleCalls
        seconds += monotonicSeconds() - start

        let iteration = trace.count + 1
        let evaluate = iteration == configuration.outerIterations
            || (configuration.evaluateEvery > 0 && iteration % configuration.evaluateEvery == 0)
        let record = OuterIterationRecord(
            iteration: iteration, seconds: seconds, outerLoss: outerLoss,
            hypergradientNorm: BLAS.norm(estimate.hypergradient), errorBound: estimate.errorBound,
            oracleCalls: oracleCalls, metrics: evaluate ? try problem.metrics(x: x, y: y) : [:])
        trace.append(record)
        return record
    }

    /// The T warm-started inner SGD steps of one outer iteration, handing each step's
    /// per-sample gradients to the estimator (on a second worker when pipelined).
    /// Public so that benchmarks can time plain SGD against a full outer iteration.
    /// - Complexity: T per-sample gradient blocks; no allocation per step.
    public mutating func runInnerLoop() throws {
        let steps = configuration.innerSteps
        if steps == 0 { return }
        let observing = estimatorBox.estimator.observesInnerGradients
        let pipelined = observing && configuration.pipelined

        let worker = pipelined ? SketchWorker(estimatorBox) : nil
        let b = sampler.batchSize
        let eta = configuration.innerLearningRate
        let scale = 1 / Double(b)
        do {
            for s in 0..<steps {
                let block = workspace.blocks[s & 1]
                sampler.next(into: &workspace.batch, using: &rng)
                try problem.perSampleGradients(x: x, y: y, samples: workspace.batch,
                                               into: &block.gradients, weights: &block.weights)
                // direction = (1/b) G ω + ∇ᵧR ;  y ← y − η · direction
                try problem.regularizerGradient(x: x, y: y, into: &workspace.direction)
                try BLAS.gemv(.none, alpha: scale, block.gradients, block.weights, beta: 1, &workspace.direction)
                BLAS.axpy(-eta, workspace.direction, &y)
                oracleCalls.sampleGradients += b
                if y.firstNonFiniteIndex != nil {
                    throw BilevelError.diverged(
                        stage: "inner SGD (outer iteration \(trace.count + 1), step \(s + 1))",
                        hint: "the inner learning rate \(eta) is too large for this problem; lower it")
                }
                if let worker {
                    try worker.waitForIdle()        // step s−1's block is folded in; its buffer is free
                    worker.ingest(block)
                } else if observing {
                    try estimatorBox.estimator.observe(gradients: block.gradients, weights: block.weights)
                }
            }
            try worker?.waitForIdle()
        } catch {
            try? worker?.waitForIdle()
            throw error
        }
    }

    /// Replaces the estimator's accumulated state (warm starts, sketch) with a fresh one.
    public mutating func resetEstimator() { estimatorBox.estimator.reset() }
}

// MARK: - Internal machinery

/// The estimator lives in a box so the pipelined worker can mutate it; only one thread
/// touches it at a time (the worker between `ingest` and `waitForIdle`, the caller otherwise).
final class EstimatorBox<Estimator: HypergradientEstimator>: @unchecked Sendable {
    var estimator: Estimator
    init(_ estimator: Estimator) { self.estimator = estimator }
}

/// One in-flight gradient block and its weights. Two of them alternate, so the caller fills
/// one while the worker reads the other.
final class InFlightGradientBlock: @unchecked Sendable {
    var gradients: Matrix
    var weights: [Double]
    init(p: Int, b: Int) {
        gradients = Matrix(rows: p, columns: b)
        weights = [Double](repeating: 0, count: b)
    }
}

/// Pre-allocated buffers of the inner loop.
final class InnerWorkspace: @unchecked Sendable {
    let blocks: [InFlightGradientBlock]
    var batch: [Int]
    var direction: [Double]
    init(p: Int, b: Int) {
        blocks = [InFlightGradientBlock(p: p, b: b), InFlightGradientBlock(p: p, b: b)]
        batch = [Int](repeating: 0, count: b)
        direction = [Double](repeating: 0, count: p)
    }
}

/// The second worker of the pipelined loop: a serial queue that folds blocks into the
/// estimator, one at a time, remembering the first error.
final class SketchWorker<Estimator: HypergradientEstimator>: @unchecked Sendable {
    private let box: EstimatorBox<Estimator>
    private let queue = DispatchQueue(label: "nhgd.sketch-worker")
    private let group = DispatchGroup()
    private var failure: Error?

    init(_ box: EstimatorBox<Estimator>) { self.box = box }

    func ingest(_ block: InFlightGradientBlock) {
        queue.async(group: group) { [self] in
            guard failure == nil else { return }
            do { try box.estimator.observe(gradients: block.gradients, weights: block.weights) } catch { failure = error }
        }
    }

    func waitForIdle() throws {
        group.wait()
        if let failure { throw failure }
    }
}

/// Epoch-wise minibatches: a seeded permutation of 0..<n consumed b indices at a time and
/// reshuffled when exhausted. No allocation per draw.
struct MinibatchSampler: Sendable {
    let batchSize: Int
    private var permutation: [Int]
    private var cursor: Int

    init(count n: Int, batchSize: Int, using rng: inout Xoshiro256StarStar) {
        self.batchSize = min(batchSize, n)
        permutation = Array(0..<n)
        cursor = n
    }

    mutating func next(into batch: inout [Int], using rng: inout Xoshiro256StarStar) {
        let n = permutation.count
        for i in 0..<batchSize {
            if cursor == n {
                permutation.shuffle(using: &rng)
                cursor = 0
            }
            batch[i] = permutation[cursor]
            cursor += 1
        }
    }
}
