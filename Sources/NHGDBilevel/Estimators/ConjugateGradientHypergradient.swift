import NHGDLinearAlgebra

/// Conjugate gradients on `H u = ∇ᵧf` with Hessian-vector products (as jaxopt's `solve_cg`;
/// ``ConjugateGradients``), at most K iterations, stopping early at relative residual
/// `tolerance`, optionally warm-started from the previous solution.
///
/// Error: in the H-norm CG's error shrinks like `2((√κ − 1)/(√κ + 1))^K`. With full-batch
/// Hessians every estimate reports the a-posteriori bound of
/// ``AdjointSystem/residualErrorBound(u:residualNorm:)`` (the recursively updated residual and
/// the regulariser's smallest curvature).
/// - Complexity: K Hessian-vector products (one more for a warm start) and O(p) work per
///   iteration.
public struct ConjugateGradientHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "cg" }
    /// K, CG iterations per estimate.
    public let iterations: Int
    /// Relative residual `‖r‖/‖b‖` at which CG stops early.
    public let tolerance: Double
    /// Start from the previous estimate's solution (its initial residual costs one more HVP).
    public let warmStart: Bool
    /// Minibatch for the Hessian-vector products (`nil`: all training data).
    public let batchSize: Int?
    var previousSolution: [Double]?

    public init(iterations: Int = 10, tolerance: Double = 1e-10, warmStart: Bool = true, batchSize: Int? = nil) throws {
        (self.iterations, self.tolerance, self.batchSize) = try validatedSolverSettings(
            ("iterations", iterations, 1), tolerance: tolerance, batchSize: batchSize)
        self.warmStart = warmStart
    }

    public mutating func reset() { previousSolution = nil }

    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        let samples = system.minibatch(batchSize, using: &rng)
        let start = warmStart ? previousSolution.flatMap { $0.count == system.dimension ? $0 : nil } : nil
        let cg = try system.conjugateGradients(start: start, iterations: iterations, relativeTolerance: tolerance,
                                               samples: samples)
        previousSolution = cg.solution
        let bound = samples == nil ? system.residualErrorBound(u: cg.solution, residualNorm: cg.residualNorm) : nil
        return AdjointSolution(u: cg.solution, errorBound: bound)
    }
}
