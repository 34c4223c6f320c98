import NHGDLinearAlgebra
import NHGDSketches

/// How a Fisher estimate forgets old columns: `F ← (1 − β) F + (new)`.
public enum ForgettingSchedule: Sendable, Equatable {
    /// A constant β ∈ (0, 1]: an exponential moving average with memory ≈ 1/β blocks.
    case constant(Double)
    /// β = 1/t on the t-th block since the last reset: the running mean of everything seen.
    case runningMean

    /// β for the t-th block since the last reset (t ≥ 1); the first block always has β = 1,
    /// which empties the sketch.
    public func factor(forBlock t: Int) -> Double {
        switch self {
        case .constant(let beta): return t == 1 ? 1 : beta
        case .runningMean: return 1 / Double(t)
        }
    }

    func validate() throws {
        if case .constant(let beta) = self {
            try requireHyperparameter(beta > 0 && beta <= 1, "forgetting", beta, "must be in (0, 1]")
        }
    }
}

/// Which labels the curvature columns' gradients use.
public enum FisherLabels: String, Sendable, Equatable, CaseIterable {
    /// The observed labels: the empirical Fisher.
    case empirical
    /// Labels drawn from the model's predictive distribution: the sampled-label Fisher, whose
    /// expectation is the Gauss–Newton matrix (the data Hessian of softmax and logistic
    /// regression; ALGORITHMS.md §8). Needs a ``LikelihoodSampleLosses`` data term.
    case sampled
}

/// What an estimator asks of the inner loop: on every `interval`-th inner step (the first of
/// each outer iteration included), the combination call that computes the SGD direction also
/// computes the columns of `compression` (Gaussian combinations or sampled columns of the
/// minibatch's gradients, scaled so that `E[Σ aⱼaⱼᵀ] = β (1/b) Σᵢ ωᵢ gᵢgᵢᵀ`), with the
/// forgetting factor of `forgetting`, at the labels of `labels` (ALGORITHMS.md §8a, d).
public struct CurvatureColumnRequest: Sendable, Equatable {
    /// The columns per requested step.
    public var compression: IngestCompression
    /// Every how many inner steps columns are requested (1: every step).
    public var interval: Int
    /// Empirical or sampled-label Fisher.
    public var labels: FisherLabels
    /// β per block.
    public var forgetting: ForgettingSchedule
    /// Restart the schedule (β = 1, an empty estimate) at every outer iteration, so that the
    /// estimate sees only gradients at the current x.
    public var resetEachOuterIteration: Bool
    /// Seeds the draws of the compression and of sampled labels.
    public var seed: UInt64

    public init(compression: IngestCompression, interval: Int = 1, labels: FisherLabels = .empirical,
                forgetting: ForgettingSchedule = .constant(0.1), resetEachOuterIteration: Bool = false,
                seed: UInt64 = 0) {
        self.compression = compression
        self.interval = interval
        self.labels = labels
        self.forgetting = forgetting
        self.resetEachOuterIteration = resetEachOuterIteration
        self.seed = seed
    }

    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    func validate() throws {
        try requireHyperparameter(interval >= 1, "column interval", interval, "must be at least 1")
        try forgetting.validate()
        do { try compression.validate(operation: "CurvatureColumnRequest") } catch let error as LinearAlgebraError {
            throw BilevelError.linearAlgebra(error)
        }
    }

    /// Checks the request, and that `data` can serve it (sampled labels need a likelihood).
    func validate(for data: some SampleLosses) throws {
        try validate()
        if labels == .sampled, !(data is any LikelihoodSampleLosses) {
            throw BilevelError.invalidHyperparameter(
                name: "fisher labels", value: "sampled",
                requirement: "a likelihood data term (\(type(of: data)) cannot draw labels)")
        }
    }
}

/// The optimiser's side of a ``CurvatureColumnRequest``: which steps get columns, β for each
/// block, and the generator for the compression and the sampled labels. Kept apart from the
/// estimator, so that the caller's thread draws the next coefficients while the pipelined
/// worker folds the previous block into the estimator.
struct CurvatureColumnPlan: Sendable {
    let request: CurvatureColumnRequest
    var rng: Xoshiro256StarStar
    /// Blocks since the last reset of the schedule.
    var blocks = 0

    init(_ request: CurvatureColumnRequest) {
        self.request = request
        rng = Xoshiro256StarStar(seed: request.seed)
    }

    /// Whether inner step `s` (0-based within an outer iteration) gets columns.
    func wantsColumns(atStep s: Int) -> Bool { s % request.interval == 0 }

    /// The number of columns for a minibatch of b.
    func columnCount(batchSize b: Int) -> Int { request.compression.columnCount(blockSize: b) }

    mutating func startOuterIteration() {
        if request.resetEachOuterIteration { blocks = 0 }
    }

    /// Fills `coefficients[:, columns]` for the minibatch weights ω and returns β of the block.
    mutating func nextBlock(weights: [Double], into coefficients: inout Matrix, columns: Range<Int>) -> Double {
        blocks += 1
        let beta = request.forgetting.factor(forBlock: blocks)
        let base = beta / Double(weights.count)
        let scales = weights.map { (base * $0).squareRoot() }
        request.compression.fill(&coefficients, columns: columns, rowScales: scales, using: &rng)
        return beta
    }
}
