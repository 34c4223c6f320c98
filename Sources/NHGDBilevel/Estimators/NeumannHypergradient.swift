import NHGDLinearAlgebra

/// The truncated Neumann series of stocBiO (Ji, Yang, Liang 2021; ``NeumannSeries``):
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
    public let terms: Int
    public let stepSize: Double
    /// Minibatch per factor (`nil`: all training data, deterministic).
    public let batchSize: Int?

    public init(terms: Int = 10, stepSize: Double, batchSize: Int? = nil) throws {
        (self.terms, self.stepSize, self.batchSize) = try validatedSolverSettings(
            ("terms", terms, 0), stepSize: stepSize, batchSize: batchSize)
    }

    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        let factors = (0..<terms).map { _ in system.hessian(samples: system.minibatch(batchSize, using: &rng)) }
        let u = try NeumannSeries.apply(stepSize: stepSize, to: try system.rightHandSide(), operators: factors)
        system.countHessianVectorProducts(terms)
        var bound: Double?
        let mu = system.regularizerCurvature.minimum
        if batchSize == nil, mu > 0, stepSize * mu < 1 { bound = pow1p(-stepSize * mu, terms + 1) }
        return AdjointSolution(u: u, errorBound: bound)
    }
}

/// `(1 + a)^n` by repeated squaring.
func pow1p(_ a: Double, _ n: Int) -> Double {
    var result = 1.0, base = 1 + a, e = n
    while e > 0 {
        if e & 1 == 1 { result *= base }
        base *= base
        e >>= 1
    }
    return result
}
