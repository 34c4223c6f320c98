import Dispatch
import Foundation
import NHGDLinearAlgebra
import NHGDSketches

/// The outer loop of hypergradient descent with warm-started inner SGD (ALGORITHMS.md §3, §8):
///
/// ```
/// for t = 1 … outerIterations:
///     for s = 1 … T:   draw B;  [d_SGD | A] = G_B [ω/b | C_s]  (one combination call)
///                      y ← y − η (d_SGD + ∇ᵧR);   estimator.observe(A)   (when it asked for columns)
///     d = estimator.estimate(x, y);   x ← update(x, d)
/// ```
///
/// **No p × b block.** Each inner step makes one combination call for the SGD direction (the
/// column `ωᵢ/b`) and, on the steps the estimator's ``CurvatureColumnRequest`` selects, its
/// curvature columns: the inner loop's workspace is one or two p × (1 + s) blocks and one
/// p-vector, whatever the minibatch size b is.
///
/// **Parallel optimise-and-approximate.** With `pipelined` on, `observe` for a block of columns
/// (the Fisher sketch update) runs on a second worker while the next steps compute, with two
/// column blocks in flight when columns come at every step (one otherwise: the worker has the
/// steps in between). Because the sketch never feeds back into the inner SGD and blocks
/// reach it in order, the iterates are bit-for-bit those of the sequential mode.
public struct BilevelOptimizer<Estimator: HypergradientEstimator> {
    public typealias Problem = Estimator.Problem

    public let problem: Problem
    public let configuration: BilevelOptimizerConfiguration
    /// The current outer variable (hyperparameters).
    public internal(set) var x: [Double]
    /// The current inner variable (model parameters).
    public internal(set) var y: [Double]
    /// Records of the outer iterations run so far.
    public internal(set) var trace: [OuterIterationRecord] = []
    /// Cumulative oracle calls.
    public internal(set) var oracleCalls = OracleCounts()
    /// Cumulative optimisation wall time in seconds.
    public internal(set) var seconds = 0.0

    // Everything below and above is the state a checkpoint holds
    // (`BilevelOptimizer+Checkpoint.swift`), except the problem, the configuration and the
    // workspace (scratch, fully rewritten before it is read).
    let estimatorBox: EstimatorBox<Estimator>
    var rng: Xoshiro256StarStar
    var outerState: OuterUpdateState
    var sampler: MinibatchSampler
    var columnPlan: CurvatureColumnPlan?
    private let workspace: InnerWorkspace

    /// The estimator (a copy; the optimiser owns the live one).
    public var estimator: Estimator { estimatorBox.estimator }

    /// Bytes of the inner loop's buffers: one p-vector, one p × 1 block, and, when the estimator
    /// asks for s curvature columns, p × (1 + s) blocks (two when pipelined with an ingest
    /// interval of 1), each with its
    /// b × (1 + s) coefficients — O(p·s), independent of b beyond the coefficients.
    public var innerWorkspaceBytes: Int { workspace.byteCount }

    /// - Throws: `invalidHyperparameter` for a bad configuration or a column request the
    ///   problem cannot serve (sampled labels without a likelihood data term),
    ///   `dimensionMismatch` or `nonFinite` for bad starting points.
    public init(problem: Problem, estimator: Estimator, configuration: BilevelOptimizerConfiguration = .init(),
                x: [Double]? = nil, y: [Double]? = nil) throws {
        try configuration.validate()
        let x0 = x ?? problem.initialOuter(), y0 = y ?? problem.initialInner()
        try validatePoint(problem, x: x0, y: y0, "BilevelOptimizer")
        guard problem.trainingCount > 0 else {
            throw BilevelError.invalidHyperparameter(name: "trainingCount", value: "0", requirement: "the problem has no training samples")
        }
        try estimator.columnRequest?.validate(for: problem.data)
        self.problem = problem
        self.configuration = configuration
        self.x = x0
        self.y = y0
        self.estimatorBox = EstimatorBox(estimator)
        var rng = Xoshiro256StarStar(seed: configuration.seed)
        self.sampler = MinibatchSampler(count: problem.trainingCount, batchSize: configuration.batchSize, using: &rng)
        self.rng = rng
        self.outerState = OuterUpdateState(rule: configuration.outerUpdate, dimension: x0.count)
        self.columnPlan = estimator.columnRequest.map(CurvatureColumnPlan.init)
        let extra = columnPlan?.columnCount(batchSize: sampler.batchSize) ?? 0
        // Two column blocks only when columns come at every step: with an ingest interval of two
        // or more the worker has a whole SGD step to fold a block in before it is refilled.
        let interval = columnPlan?.request.interval ?? 1
        self.workspace = InnerWorkspace(p: problem.innerDimension, b: sampler.batchSize, curvatureColumns: extra,
                                        columnBlocks: configuration.pipelined && !estimator.observesOnCallerThread
                                            && interval == 1 ? 2 : 1)
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
        try checkInnerStability()
        try runInnerLoop()
        let outerLoss = try problem.outerValue(x: x, y: y)
        let estimate = try estimatorBox.estimator.estimate(problem: problem, x: x, y: y, using: &rng)
        var candidate = x
        outerState.apply(estimate.hypergradient, learningRate: configuration.outerLearningRate, to: &candidate)
        if candidate.firstNonFiniteIndex != nil {
            throw BilevelError.diverged(stage: "outer update (iteration \(trace.count + 1))",
                                        hint: "x became NaN or infinite: the outer learning rate \(configuration.outerLearningRate) is too large; lower it")
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

    /// Refuses an inner learning rate η that the regulariser alone makes unstable at the current
    /// x: with `c` the largest curvature of R (`∇²ᵧᵧR = diag(c)`), every SGD step multiplies the
    /// component of y along that coordinate by `1 − ηc` from R, and a convex data term only adds
    /// curvature, so `ηc > 2` can never converge (GD's stability limit, `η < 2/λ_max(H)`). Caught
    /// before the steps run, where a divergence would otherwise show as a finite but enormous
    /// loss (`1e40` after five steps). At the first outer iteration η is to blame; later, x has
    /// moved there by the outer steps, so the outer learning rate is named first.
    private func checkInnerStability() throws {
        let eta = configuration.innerLearningRate
        let c = problem.regularizer.curvature(x: x, y: y).maximum
        guard eta * c > 2 || !c.isFinite else { return }
        let iteration = trace.count + 1
        let limit = String(format: "%.3g", 2 / c)
        let curvature = c.isFinite
            ? "η = \(String(format: "%g", eta)) times the regulariser's largest curvature \(String(format: "%.3g", c)) is above 2"
            : "the regulariser's curvature overflows"
        if !c.isFinite, iteration > 1 {
            throw BilevelError.diverged(stage: "inner SGD (outer iteration \(iteration))",
                                        hint: "the outer steps moved x to where \(curvature): lower the outer learning rate "
                                            + "\(String(format: "%g", configuration.outerLearningRate))")
        }
        if iteration == 1 {
            throw BilevelError.diverged(stage: "inner SGD (outer iteration 1)",
                                        hint: "\(curvature): lower the inner learning rate below \(limit)")
        }
        throw BilevelError.diverged(
            stage: "inner SGD (outer iteration \(iteration))",
            hint: "the outer steps moved x to where \(curvature): lower the outer learning rate "
                + "\(String(format: "%g", configuration.outerLearningRate)) (or the inner learning rate below \(limit))")
    }

    /// The T warm-started inner SGD steps of one outer iteration, handing the requested
    /// curvature columns to the estimator (on a second worker when pipelined). Without an
    /// estimator that asks for columns this is plain minibatch SGD, one combination column per
    /// step.
    /// - Complexity: T combination calls of 1 + s columns on the steps that carry columns, 1
    ///   otherwise; no allocation of p-sized storage per step.
    public mutating func runInnerLoop() throws {
        let steps = configuration.innerSteps
        if steps == 0 { return }
        columnPlan?.startOuterIteration()
        let pipelines = configuration.pipelined && !estimatorBox.estimator.observesOnCallerThread
        let worker = columnPlan != nil && pipelines ? SketchWorker(estimatorBox) : nil
        let b = sampler.batchSize
        let eta = configuration.innerLearningRate
        let sampledLabels = columnPlan?.request.labels == .sampled
        let p = problem.innerDimension
        var next = 0   // the column block to fill: the other one may be with the worker
        do {
            for s in 0..<steps {
                sampler.next(into: &workspace.batch, using: &rng)
                let weights = problem.sampleWeights(x: x, samples: workspace.batch)
                let carriesColumns = columnPlan?.wantsColumns(atStep: s) ?? false
                // Column 0: the SGD direction (1/b) Σ ωᵢ gᵢ; columns 1…s: the curvature columns.
                let block = carriesColumns ? workspace.columnBlocks[next] : workspace.directionBlock
                // One block shared with the worker: it must have folded the last one in first.
                if carriesColumns, workspace.columnBlocks.count == 1 { try worker?.waitForIdle() }
                for i in 0..<b { block.coefficients[i, 0] = weights[i] / Double(b) }
                var beta = 1.0
                if carriesColumns {
                    beta = columnPlan!.nextBlock(weights: weights, into: &block.coefficients,
                                                 columns: 1..<block.coefficients.columns)
                }
                try combine(into: block, sampledLabels: carriesColumns && sampledLabels)
                // y ← y − η (d_SGD + ∇ᵧR)
                block.gradients.storage.withUnsafeBufferPointer { g in
                    workspace.direction.withUnsafeMutableBufferPointer { d in
                        d.baseAddress!.update(from: g.baseAddress!, count: p)
                    }
                }
                problem.regularizer.addGradient(x: x, y: y, scaledBy: 1, to: &workspace.direction)
                BLAS.axpy(-eta, workspace.direction, &y)
                oracleCalls.sampleGradients += b
                if y.firstNonFiniteIndex != nil {
                    let stage = "inner SGD (outer iteration \(trace.count + 1), step \(s + 1))"
                    throw BilevelError.diverged(stage: stage, hint: trace.isEmpty
                        ? "y became NaN or infinite: the inner learning rate \(eta) is too large for this problem; lower it"
                        : "y became NaN or infinite after the outer steps moved x: lower the outer learning rate "
                            + "\(configuration.outerLearningRate) (or the inner learning rate \(eta))")
                }
                guard carriesColumns else { continue }
                let columns = 1..<block.gradients.columns
                if let worker {
                    try worker.waitForIdle()   // the previous block is folded in
                    worker.ingest(block, columns: columns, forgetting: beta)
                    next = (next + 1) % workspace.columnBlocks.count
                } else {
                    try estimatorBox.estimator.observe(block.gradients, columns: columns, forgetting: beta)
                }
            }
            try worker?.waitForIdle()
        } catch {
            try? worker?.waitForIdle()
            throw error
        }
    }

    /// `block.gradients = G_B · block.coefficients` for the current minibatch, the curvature
    /// columns at sampled labels when asked.
    private mutating func combine(into block: InnerBlock, sampledLabels: Bool) throws {
        if sampledLabels, let likelihood = problem.data as? any LikelihoodSampleLosses {
            var plan = columnPlan!
            try combineSampled(likelihood, block, &plan.rng)
            columnPlan = plan
        } else {
            try problem.data.gradientCombinations(at: y, samples: workspace.batch, coefficients: block.coefficients,
                                                  into: &block.gradients)
        }
    }

    private func combineSampled(_ data: some LikelihoodSampleLosses, _ block: InnerBlock,
                                _ rng: inout Xoshiro256StarStar) throws {
        try data.gradientCombinations(at: y, samples: workspace.batch, coefficients: block.coefficients,
                                      sampledLabelColumns: 1..<block.coefficients.columns, using: &rng,
                                      into: &block.gradients)
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

/// One combination call's buffers: the b × (1 + s) coefficients and the p × (1 + s) result.
/// Two of the curvature-carrying kind alternate, so the caller fills one while the worker
/// reads the other.
final class InnerBlock: @unchecked Sendable {
    var coefficients: Matrix
    var gradients: Matrix
    init(p: Int, b: Int, columns: Int) {
        coefficients = Matrix(rows: b, columns: columns)
        gradients = Matrix(rows: p, columns: columns)
    }
}

/// Pre-allocated buffers of the inner loop: O(p·(1 + s)) whatever b is.
final class InnerWorkspace: @unchecked Sendable {
    /// The SGD direction alone (p × 1), for steps without curvature columns.
    let directionBlock: InnerBlock
    /// p × (1 + s) blocks for steps with them: two when pipelined with columns at every step (the
    /// caller fills one while the worker reads the other), one otherwise (sequential, or an
    /// ingest interval of two or more, where the worker finishes between column steps), none
    /// when no columns are requested.
    let columnBlocks: [InnerBlock]
    var batch: [Int]
    var direction: [Double]
    init(p: Int, b: Int, curvatureColumns s: Int, columnBlocks count: Int) {
        directionBlock = InnerBlock(p: p, b: b, columns: 1)
        columnBlocks = s > 0 ? (0..<count).map { _ in InnerBlock(p: p, b: b, columns: 1 + s) } : []
        batch = [Int](repeating: 0, count: b)
        direction = [Double](repeating: 0, count: p)
    }

    /// Bytes of the buffers.
    var byteCount: Int {
        ([directionBlock] + columnBlocks).reduce(0) { $0 + $1.gradients.byteCount + $1.coefficients.byteCount }
            + direction.count * 8 + batch.count * 8
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

    func ingest(_ block: InnerBlock, columns: Range<Int>, forgetting beta: Double) {
        queue.async(group: group) { [self] in
            guard failure == nil else { return }
            do { try box.estimator.observe(block.gradients, columns: columns, forgetting: beta) } catch { failure = error }
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
    var permutation: [Int]
    var cursor: Int

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

/// Monotonic wall clock in seconds.
@inline(__always) func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
}
