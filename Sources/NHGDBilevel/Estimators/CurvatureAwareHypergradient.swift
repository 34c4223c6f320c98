import NHGDLinearAlgebra

/// NBO, the curvature-aware hypergradient of Dong et al. 2025 ("Efficient Curvature-Aware
/// Hypergradient Approximation for Bilevel Optimization"): one inexact Newton system with two
/// right-hand sides at the current point, a Newton correction of the inner iterate, and the
/// hypergradient at the corrected point:
///
/// ```
/// H(x, y) [v, u] ≈ [∇ᵧg(x, y), ∇ᵧf(x, y)]      (K conjugate-gradient steps each, from 0)
/// y⁺ = y − v                                   (one Newton step on g(x, ·))
/// d  = ∇ₓf(x, y⁺) − J(x, y⁺) u
/// ```
///
/// The Newton step makes the inner error quadratic: `‖y⁺ − y*‖ ≤ (L_H / 2μ) ‖y − y*‖²` with
/// an exact solve (L_H: the Lipschitz constant of H), and exactly `y⁺ = y*` on a quadratic.
/// The estimator cannot move the optimiser's `y`; it reports `y⁺` in ``correctedInner``.
///
/// Both systems use the same Hessian: all training data (``batchSize`` `nil`), or one
/// minibatch drawn per estimate, on which `∇ᵧg` is then also computed. CG stops early at
/// relative residual ``tolerance``. With full-batch Hessians and `μ > 0` the smallest
/// regulariser curvature (a lower bound on λ_min(H) since the data part is convex), the
/// estimate reports, like ``ConjugateGradientHypergradient``, the a-posteriori bound
/// `e / (‖u‖ − e)`, `e = ‖∇ᵧf − H u‖ / μ`, on the relative error of `u` against `H(x, y)⁻¹∇ᵧf(x, y)`.
/// - Complexity: at most 2K Hessian-vector products, one inner gradient (n or b sample
///   gradients), two outer gradients, one cross product; O(p) memory.
public struct CurvatureAwareHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "nbo" }
    /// K, the largest number of CG steps per system.
    public let iterations: Int
    /// Relative residual at which CG stops early.
    public let tolerance: Double
    /// Minibatch for the Hessian-vector products and `∇ᵧg` (`nil`: all training data).
    public let batchSize: Int?
    /// `y⁺ = y − v` of the last estimate.
    public internal(set) var correctedInner: [Double]?

    /// - Parameters:
    ///   - iterations: K ≥ 1.
    ///   - tolerance: relative residual ≥ 0 (finite) for stopping CG early.
    ///   - batchSize: ≥ 1, or `nil` for full batch.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(iterations: Int = 10, tolerance: Double = 1e-10, batchSize: Int? = nil) throws {
        (self.iterations, self.tolerance, self.batchSize) = try validatedSolverSettings(
            ("iterations", iterations, 1), tolerance: tolerance, batchSize: batchSize)
    }

    public mutating func reset() { correctedInner = nil }

    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        let samples = system.minibatch(batchSize, using: &rng)
        let innerGradient = try system.innerGradient(samples: samples)
        let newton = try system.conjugateGradients(innerGradient, iterations: iterations, relativeTolerance: tolerance,
                                                   samples: samples)
        let adjoint = try system.conjugateGradients(iterations: iterations, relativeTolerance: tolerance, samples: samples)
        var corrected = system.y
        BLAS.axpy(-1, newton.solution, &corrected)
        try requireAllFinite(corrected, "CurvatureAwareHypergradient", "the Newton-corrected inner iterate")
        correctedInner = corrected
        let bound = samples == nil ? system.residualErrorBound(u: adjoint.solution, residualNorm: adjoint.residualNorm) : nil
        return AdjointSolution(u: adjoint.solution, assemblyPoint: corrected, errorBound: bound)
    }
}
