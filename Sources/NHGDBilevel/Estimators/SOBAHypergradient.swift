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
/// This estimator is the `v` and `x` half. Each solve takes one step on `v` (warm-started from
/// the previous call) with one Hessian-vector product on a fresh minibatch of ``batchSize``
/// samples and returns `u = −v` with the *updated* `v`, so that, as for every other method,
/// `u ≈ H⁻¹∇ᵧf` and `d = ∇ₓf − J u = ∇ₓf + J v`. The `y` half is ``BilevelOptimizer``'s inner
/// SGD: run with `configuration.innerSteps = 1` (and `innerLearningRate = ρ`), the optimiser
/// *is* the SOBA single loop, in the alternating order `y`, then `v`, then `x` (each step sees
/// the newest values of the others; the paper updates all three from the same point). The
/// minibatch of the `y` step and that of the `v` step are drawn independently.
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
    /// ρ₀ and a of the step schedule `ρ_t = ρ₀ / t^a`.
    public let schedule: (initialStep: Double, decayExponent: Double)
    /// Minibatch of each Hessian-vector product (`nil`: all training data).
    public let batchSize: Int?
    /// The current `v` (≈ −H⁻¹∇ᵧf once converged); `nil` before the first estimate.
    public internal(set) var direction: [Double]?
    /// Estimates made since the last ``reset()`` (t of the step-size schedule).
    public internal(set) var stepCount = 0

    /// - Parameters:
    ///   - stepSize: ρ₀ > 0, finite (and below 2/L for the `v` recursion to converge).
    ///   - decayExponent: a ∈ [0, 1]; 0 keeps the step constant.
    ///   - batchSize: samples per Hessian-vector product, ≥ 1; `nil` for full batch.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(stepSize: Double, decayExponent: Double = 0, batchSize: Int? = 64) throws {
        (_, _, self.batchSize) = try validatedSolverSettings(("steps", 1, 1), stepSize: stepSize, batchSize: batchSize)
        try requireHyperparameter(decayExponent >= 0 && decayExponent <= 1, "decayExponent", decayExponent,
                                  "must be in [0, 1]")
        schedule = (stepSize, decayExponent)
    }

    /// The step used at the t-th estimate (t ≥ 1): `ρ₀ / t^a`.
    public func stepSize(atStep t: Int) -> Double {
        let (initial, exponent) = schedule
        return exponent == 0 ? initial : initial / pow(Double(max(t, 1)), exponent)
    }

    public mutating func reset() {
        direction = nil
        stepCount = 0
    }

    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        var v = direction.flatMap { $0.count == system.dimension ? $0 : nil }
            ?? [Double](repeating: 0, count: system.dimension)
        let samples = system.minibatch(batchSize, using: &rng)
        var hv = [Double](repeating: 0, count: system.dimension)
        try system.hessianVectorProduct(v, samples: samples, into: &hv)
        let rho = stepSize(atStep: stepCount + 1)
        // v ← v − ρ (H_B v + ∇ᵧf)
        BLAS.axpy(-rho, hv, &v)
        BLAS.axpy(-rho, try system.rightHandSide(), &v)
        try requireAllFinite(v, "SOBAHypergradient", "v (lower the step size)")
        direction = v
        stepCount += 1
        BLAS.scale(&v, by: -1)
        return AdjointSolution(u: v)
    }
}
