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
    public private(set) var correctedInner: [Double]?

    /// - Parameters:
    ///   - iterations: K ≥ 1.
    ///   - tolerance: relative residual ≥ 0 (finite) for stopping CG early.
    ///   - batchSize: ≥ 1, or `nil` for full batch.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(iterations: Int = 10, tolerance: Double = 1e-10, batchSize: Int? = nil) throws {
        try requireHyperparameter(iterations >= 1, "iterations", iterations, "must be at least 1")
        try requireHyperparameter(tolerance >= 0 && tolerance.isFinite, "tolerance", tolerance, "must be finite and ≥ 0")
        if let b = batchSize { try requireHyperparameter(b >= 1, "batchSize", b, "must be at least 1") }
        self.iterations = iterations
        self.tolerance = tolerance
        self.batchSize = batchSize
    }

    public mutating func reset() { correctedInner = nil }

    public mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate {
        let start = monotonicSeconds()
        try validatePoint(problem, x: x, y: y, "CurvatureAwareHypergradient")
        let p = problem.innerDimension
        var counts = OracleCounts()
        let samples = batchSize.map { drawMinibatch($0, from: problem.trainingCount, using: &rng) }

        let innerGradient: [Double]
        if let samples {
            var block = Matrix(rows: p, columns: samples.count)
            var weights = [Double](repeating: 0, count: samples.count)
            try problem.perSampleGradients(x: x, y: y, samples: samples, into: &block, weights: &weights)
            var gradient = [Double](repeating: 0, count: p)
            try problem.regularizerGradient(x: x, y: y, into: &gradient)
            try BLAS.gemv(.none, alpha: 1 / Double(samples.count), block, weights, beta: 1, &gradient)
            innerGradient = gradient
            counts.sampleGradients += samples.count
        } else {
            innerGradient = try problem.innerGradient(x: x, y: y)
            counts.sampleGradients += problem.trainingCount
        }
        let (_, fy) = try problem.outerGradients(x: x, y: y)
        counts.outerGradients += 1

        var workspace = [Double](repeating: 0, count: p)
        let newton = try conjugateGradients(problem, x: x, y: y, rightHandSide: innerGradient, samples: samples,
                                            workspace: &workspace, counts: &counts)
        let adjoint = try conjugateGradients(problem, x: x, y: y, rightHandSide: fy, samples: samples,
                                             workspace: &workspace, counts: &counts)
        var corrected = y
        BLAS.axpy(-1, newton.solution, &corrected)
        try requireAllFinite(corrected, "CurvatureAwareHypergradient", "the Newton-corrected inner iterate")

        let (fxCorrected, _) = try problem.outerGradients(x: x, y: corrected)
        counts.outerGradients += 1
        let u = adjoint.solution
        let d = try assembleHypergradient(problem, x: x, y: corrected, outerGradientX: fxCorrected, u: u,
                                          counts: &counts)
        var bound: Double?
        if samples == nil, let mu = try problem.regularizerCurvature(x: x, y: y).min(), mu > 0 {
            let e = adjoint.residualNorm / mu, uNorm = BLAS.norm(u)
            bound = uNorm > e ? e / (uNorm - e) : nil
        }
        correctedInner = corrected
        return HypergradientEstimate(hypergradient: d, solution: u, oracleCalls: counts,
                                     seconds: monotonicSeconds() - start, errorBound: bound)
    }

    /// At most ``iterations`` CG steps on `H z = b` from `z = 0` (H on `samples`, or all data).
    /// Returns `z` and the norm of the recursively updated residual `b − H z`.
    private func conjugateGradients(
        _ problem: Problem, x: [Double], y: [Double], rightHandSide b: [Double], samples: [Int]?,
        workspace hv: inout [Double], counts: inout OracleCounts
    ) throws -> (solution: [Double], residualNorm: Double) {
        var z = [Double](repeating: 0, count: b.count)
        var r = b
        var direction = r
        var rr = BLAS.dot(r, r)
        let threshold = tolerance * BLAS.norm(b)
        var k = 0
        while k < iterations, rr > 0, rr.squareRoot() > threshold {
            try problem.hessianVectorProduct(x: x, y: y, v: direction, samples: samples, into: &hv)
            counts.hessianVectorProducts += 1
            let curvature = BLAS.dot(direction, hv)
            guard curvature > 0 else { break }  // H not positive definite along this direction
            let alpha = rr / curvature
            BLAS.axpy(alpha, direction, &z)
            BLAS.axpy(-alpha, hv, &r)
            let rrNext = BLAS.dot(r, r)
            BLAS.scale(&direction, by: rrNext / rr)
            BLAS.axpy(1, r, &direction)
            rr = rrNext
            k += 1
        }
        return (z, rr.squareRoot())
    }
}
