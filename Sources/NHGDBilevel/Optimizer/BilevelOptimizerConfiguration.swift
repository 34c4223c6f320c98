/// Settings of ``BilevelOptimizer``. Defaults are a reasonable start for the built-in problems.
public struct BilevelOptimizerConfiguration: Sendable, Equatable {
    /// Outer iterations (hypergradient steps).
    public var outerIterations = 30
    /// Warm-started inner SGD steps per outer iteration (T).
    public var innerSteps = 50
    /// Minibatch size b of the inner SGD.
    public var batchSize = 64
    /// Inner SGD step η.
    public var innerLearningRate = 0.1
    /// Outer step γ.
    public var outerLearningRate = 0.1
    public var outerUpdate: OuterUpdateRule = .adam()
    /// Run the estimator's `observe` (the Fisher sketch update) on a second worker while the
    /// next inner step computes. Iterates are identical to the sequential mode.
    public var pipelined = true
    /// OpenBLAS threads for each outer iteration (inner loop, estimate and outer step), in
    /// both modes: one per worker on 2 cores when pipelined. A run is reproducible bit for bit
    /// only at a fixed count, because the count changes BLAS's reduction order; the optimiser
    /// sets it with ``BLAS/withThreadCount(_:_:)``, which also keeps other threads of the process
    /// from changing it during the step. `nil` leaves the process-wide setting alone (and gives
    /// up that guarantee).
    public var blasThreads: Int? = 1
    /// Evaluate metrics every this many outer iterations (and always after the last); 0: only
    /// after the last.
    public var evaluateEvery = 1
    /// Seed of the minibatch sampling and of every stochastic estimator.
    public var seed: UInt64 = 0

    public init() {}

    func validate() throws {
        try requireHyperparameter(outerIterations >= 0, "outerIterations", outerIterations, "must be ≥ 0")
        try requireHyperparameter(innerSteps >= 0, "innerSteps", innerSteps, "must be ≥ 0")
        try requireHyperparameter(batchSize >= 1, "batchSize", batchSize, "must be at least 1")
        try requireHyperparameter(innerLearningRate > 0 && innerLearningRate.isFinite, "innerLearningRate",
                                  innerLearningRate, "must be finite and > 0")
        try requireHyperparameter(outerLearningRate > 0 && outerLearningRate.isFinite, "outerLearningRate",
                                  outerLearningRate, "must be finite and > 0")
        try requireHyperparameter(evaluateEvery >= 0, "evaluateEvery", evaluateEvery, "must be ≥ 0")
        if case let .adam(b1, b2, eps) = outerUpdate {
            try requireHyperparameter(b1 >= 0 && b1 < 1, "adam beta1", b1, "must be in [0, 1)")
            try requireHyperparameter(b2 >= 0 && b2 < 1, "adam beta2", b2, "must be in [0, 1)")
            try requireHyperparameter(eps > 0, "adam epsilon", eps, "must be > 0")
        }
        if let t = blasThreads {
            try requireHyperparameter(t >= 1, "blasThreads", t, "must be at least 1")
        }
    }
}

/// One outer iteration as recorded in a trace: a value a caller can save (CSV, JSON).
public struct OuterIterationRecord: Sendable {
    /// 1-based outer iteration.
    public var iteration: Int
    /// Cumulative optimisation wall time in seconds (inner loops, estimates and outer
    /// updates; metric evaluation excluded).
    public var seconds: Double
    /// Outer objective f(x, y) after the inner loop of this iteration (before the x step).
    public var outerLoss: Double
    /// ‖d‖ of this iteration's hypergradient estimate.
    public var hypergradientNorm: Double
    /// The estimator's own error bound, where it has one.
    public var errorBound: Double?
    /// Cumulative oracle calls: inner SGD plus estimator.
    public var oracleCalls: OracleCounts
    /// Task metrics after the x step (empty when not evaluated this iteration).
    public var metrics: [String: Double]
}
