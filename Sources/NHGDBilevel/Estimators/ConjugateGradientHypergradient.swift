import NHGDLinearAlgebra

/// Conjugate gradients on `H u = ∇ᵧf` with Hessian-vector products (as jaxopt's `solve_cg`),
/// at most K iterations, stopping early at relative residual `tolerance`, optionally
/// warm-started from the previous solution.
///
/// Error: in the H-norm CG's error shrinks like `2((√κ − 1)/(√κ + 1))^K`. Every estimate
/// reports an a-posteriori bound: with the (recursively updated) residual `r = ∇ᵧf − H u` and
/// `μ ≤ λ_min(H)` (the regulariser's smallest curvature, valid because the data part of every
/// problem here is convex), `‖u − u*‖ ≤ ‖r‖/μ`, so the relative error is at most
/// `e / (‖u‖ − e)` with `e = ‖r‖/μ` whenever `‖u‖ > e`.
/// - Complexity: K Hessian-vector products and O(p) work per iteration.
public struct ConjugateGradientHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "cg" }
    public var iterations: Int
    public var tolerance: Double
    public var warmStart: Bool
    /// Minibatch for the Hessian-vector products (`nil`: all training data).
    public var batchSize: Int?
    private var previousSolution: [Double]?

    public init(iterations: Int = 10, tolerance: Double = 1e-10, warmStart: Bool = true, batchSize: Int? = nil) throws {
        try requireHyperparameter(iterations >= 1, "iterations", iterations, "must be at least 1")
        try requireHyperparameter(tolerance >= 0 && tolerance.isFinite, "tolerance", tolerance, "must be finite and ≥ 0")
        if let b = batchSize { try requireHyperparameter(b >= 1, "batchSize", b, "must be at least 1") }
        self.iterations = iterations
        self.tolerance = tolerance
        self.warmStart = warmStart
        self.batchSize = batchSize
    }

    public mutating func reset() { previousSolution = nil }

    public mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate {
        let start = monotonicSeconds()
        try validatePoint(problem, x: x, y: y, "ConjugateGradientHypergradient")
        let p = problem.innerDimension
        var counts = OracleCounts()
        let (fx, b) = try problem.outerGradients(x: x, y: y)
        counts.outerGradients += 1
        let samples = batchSize.map { drawMinibatch($0, from: problem.trainingCount, using: &rng) }

        var u = (warmStart ? previousSolution : nil) ?? [Double](repeating: 0, count: p)
        if u.count != p { u = [Double](repeating: 0, count: p) }
        var hv = [Double](repeating: 0, count: p)
        var r = b
        if BLAS.norm(u) > 0 {
            try problem.hessianVectorProduct(x: x, y: y, v: u, samples: samples, into: &hv)
            counts.hessianVectorProducts += 1
            BLAS.axpy(-1, hv, &r)
        }
        let bNorm = BLAS.norm(b)
        var direction = r
        var rr = BLAS.dot(r, r)
        var k = 0
        while k < iterations, rr.squareRoot() > tolerance * bNorm, bNorm > 0 {
            try problem.hessianVectorProduct(x: x, y: y, v: direction, samples: samples, into: &hv)
            counts.hessianVectorProducts += 1
            let curvature = BLAS.dot(direction, hv)
            guard curvature > 0 else { break }  // H not positive definite along this direction
            let alpha = rr / curvature
            BLAS.axpy(alpha, direction, &u)
            BLAS.axpy(-alpha, hv, &r)
            let rrNext = BLAS.dot(r, r)
            let beta = rrNext / rr
            rr = rrNext
            BLAS.scale(&direction, by: beta)
            BLAS.axpy(1, r, &direction)
            k += 1
        }
        previousSolution = u
        let d = try assembleHypergradient(problem, x: x, y: y, outerGradientX: fx, u: u, counts: &counts)
        let mu = try problem.regularizerCurvature(x: x, y: y).min() ?? 0
        var bound: Double?
        if mu > 0, samples == nil {
            let e = rr.squareRoot() / mu, uNorm = BLAS.norm(u)
            bound = uNorm > e ? e / (uNorm - e) : nil
        }
        return HypergradientEstimate(hypergradient: d, solution: u, oracleCalls: counts,
                                     seconds: monotonicSeconds() - start, errorBound: bound)
    }
}
