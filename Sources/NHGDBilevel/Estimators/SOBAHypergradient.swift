import Foundation
import NHGDLinearAlgebra

/// SOBA (Dagréou, Ablin, Vaiter, Moreau 2022): the single-loop stochastic bilevel method that
/// moves the inner variable, the linear-system variable and the outer variable together, one
/// minibatch each per iteration:
///
/// ```
/// y ← y − ρ ∇ᵧg_B(x, y)
/// v ← v − ρ_t (H_B v + ∇ᵧf)            (v → −H⁻¹∇ᵧf)
/// x ← x − γ (∇ₓf + J v)
/// ```
///
/// This estimator is the `v` and `x` half. Each ``estimate(problem:x:y:using:)`` takes one
/// step on `v` (warm-started from the previous call) with one Hessian-vector product on a fresh
/// minibatch of ``batchSize`` samples, then returns `d = ∇ₓf + J v` with the *updated* `v`,
/// and reports `solution = −v` so that, as for every other method, `solution ≈ u = H⁻¹∇ᵧf`.
/// The `y` half is ``BilevelOptimizer``'s inner SGD: run with
/// `configuration.innerSteps = 1` (and `innerLearningRate = ρ`), the optimiser *is* the SOBA
/// single loop, in the alternating order `y`, then `v`, then `x` (each step sees the newest
/// values of the others; the paper updates all three from the same point). The minibatch
/// of the `y` step and that of the `v` step are drawn independently.
///
/// Step size: `ρ_t = ρ₀ / t^a` at the t-th estimate since the last ``reset()`` (`a = 0`:
/// constant, as in the paper's experiments; `a ∈ (0, 1]` gives the decreasing steps of the
/// stochastic analysis). For the `v` recursion to contract, `ρ_t < 2 / L` with L the largest
/// eigenvalue of the (minibatch) Hessian. At a fixed `(x, y)` with full-batch Hessians and a
/// constant step, `v + H⁻¹∇ᵧf` contracts by `max |1 − ρ λ(H)| = 1 − ρ μ` per call.
/// - Complexity: per estimate, one HVP on ``batchSize`` samples, one cross product, one outer
///   gradient; O(p) memory for `v`.
public struct SOBAHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "soba" }
    /// ρ₀, the initial (or constant) step on `v`.
    public let stepSize: Double
    /// a in `ρ_t = ρ₀ / t^a` (0: constant step).
    public let decayExponent: Double
    /// Minibatch of each Hessian-vector product (`nil`: all training data).
    public let batchSize: Int?
    /// The current `v` (≈ −H⁻¹∇ᵧf once converged); `nil` before the first estimate.
    public private(set) var direction: [Double]?
    /// Estimates made since the last ``reset()`` (t of the step-size schedule).
    public private(set) var stepCount = 0

    /// - Parameters:
    ///   - stepSize: ρ₀ > 0, finite (and below 2/L for the `v` recursion to converge).
    ///   - decayExponent: a ∈ [0, 1]; 0 keeps the step constant.
    ///   - batchSize: samples per Hessian-vector product, ≥ 1; `nil` for full batch.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(stepSize: Double, decayExponent: Double = 0, batchSize: Int? = 64) throws {
        try requireHyperparameter(stepSize > 0 && stepSize.isFinite, "stepSize", stepSize,
                                  "must be finite and > 0 (and < 2/L)")
        try requireHyperparameter(decayExponent >= 0 && decayExponent <= 1, "decayExponent", decayExponent,
                                  "must be in [0, 1]")
        if let b = batchSize { try requireHyperparameter(b >= 1, "batchSize", b, "must be at least 1") }
        self.stepSize = stepSize
        self.decayExponent = decayExponent
        self.batchSize = batchSize
    }

    /// The step used at the t-th estimate (t ≥ 1): `ρ₀ / t^a`.
    public func stepSize(atStep t: Int) -> Double {
        decayExponent == 0 ? stepSize : stepSize / pow(Double(max(t, 1)), decayExponent)
    }

    public mutating func reset() {
        direction = nil
        stepCount = 0
    }

    public mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate {
        let start = monotonicSeconds()
        try validatePoint(problem, x: x, y: y, "SOBAHypergradient")
        let p = problem.innerDimension
        var counts = OracleCounts()
        let (fx, fy) = try problem.outerGradients(x: x, y: y)
        counts.outerGradients += 1
        var v = direction ?? [Double](repeating: 0, count: p)
        if v.count != p { v = [Double](repeating: 0, count: p) }
        let samples = batchSize.map { drawMinibatch($0, from: problem.trainingCount, using: &rng) }
        var hv = [Double](repeating: 0, count: p)
        try problem.hessianVectorProduct(x: x, y: y, v: v, samples: samples, into: &hv)
        counts.hessianVectorProducts += 1
        let rho = stepSize(atStep: stepCount + 1)
        // v ← v − ρ (H_B v + ∇ᵧf)
        BLAS.axpy(-rho, hv, &v)
        BLAS.axpy(-rho, fy, &v)
        try requireAllFinite(v, "SOBAHypergradient", "v (lower the step size)")
        // d = ∇ₓf + J v = ∇ₓf − J u with u = −v.
        var u = v
        BLAS.scale(&u, by: -1)
        let d = try assembleHypergradient(problem, x: x, y: y, outerGradientX: fx, u: u, counts: &counts)
        direction = v
        stepCount += 1
        return HypergradientEstimate(hypergradient: d, solution: u, oracleCalls: counts,
                                     seconds: monotonicSeconds() - start, errorBound: nil)
    }
}
