import NHGDLinearAlgebra

/// The truncated Neumann series of stocBiO (Ji, Yang, Liang 2021):
///
/// ```
/// u = η Σ_{q=0}^{Q} Π_{j≤q} (I − η H_{B_j}) ∇ᵧf
/// ```
///
/// with a fresh minibatch `B_j` per factor and `η ≤ 1/L`. With exact Hessians the truncation
/// error is `(1 − ημ)^{Q+1}` relative, which is what ``HypergradientEstimate/errorBound``
/// reports when the minibatch is the full data set (μ: the regulariser's smallest curvature).
/// - Complexity: Q Hessian-vector products.
public struct NeumannHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "neumann" }
    public var terms: Int
    public var stepSize: Double
    /// Minibatch per factor (`nil`: all training data, deterministic).
    public var batchSize: Int?

    public init(terms: Int = 10, stepSize: Double, batchSize: Int? = nil) throws {
        try requireHyperparameter(terms >= 0, "terms", terms, "must be ≥ 0")
        try requireHyperparameter(stepSize > 0 && stepSize.isFinite, "stepSize", stepSize, "must be finite and > 0 (and ≤ 1/L)")
        if let b = batchSize { try requireHyperparameter(b >= 1, "batchSize", b, "must be at least 1") }
        self.terms = terms
        self.stepSize = stepSize
        self.batchSize = batchSize
    }

    public mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate {
        let start = monotonicSeconds()
        try validatePoint(problem, x: x, y: y, "NeumannHypergradient")
        let p = problem.innerDimension
        var counts = OracleCounts()
        let (fx, b) = try problem.outerGradients(x: x, y: y)
        counts.outerGradients += 1
        var v = b, sum = b
        var hv = [Double](repeating: 0, count: p)
        for _ in 0..<terms {
            let samples = batchSize.map { drawMinibatch($0, from: problem.trainingCount, using: &rng) }
            try problem.hessianVectorProduct(x: x, y: y, v: v, samples: samples, into: &hv)
            counts.hessianVectorProducts += 1
            BLAS.axpy(-stepSize, hv, &v)
            BLAS.axpy(1, v, &sum)
        }
        BLAS.scale(&sum, by: stepSize)
        let d = try assembleHypergradient(problem, x: x, y: y, outerGradientX: fx, u: sum, counts: &counts)
        var bound: Double?
        if batchSize == nil, let mu = try problem.regularizerCurvature(x: x, y: y).min(), mu > 0, stepSize * mu < 1 {
            bound = pow1p(-stepSize * mu, terms + 1)
        }
        return HypergradientEstimate(hypergradient: d, solution: sum, oracleCalls: counts,
                                     seconds: monotonicSeconds() - start, errorBound: bound)
    }
}

/// `(1 + a)^n` for small |a|, accurate near a = 0.
func pow1p(_ a: Double, _ n: Int) -> Double {
    var result = 1.0, base = 1 + a, e = n
    while e > 0 {
        if e & 1 == 1 { result *= base }
        base *= base
        e >>= 1
    }
    return result
}
