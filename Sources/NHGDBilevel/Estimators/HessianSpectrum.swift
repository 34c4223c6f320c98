import Foundation
import NHGDLinearAlgebra

/// An estimate of the largest eigenvalue `λ₁` of the full-batch inner Hessian `H = ∇²_yy g(x, y)`
/// by the power method, matrix-free (one Hessian-vector product per iteration): the curvature
/// scale `L` behind the step sizes `η ≤ 1/L` of Neumann, AmIGO and SOBA.
///
/// From `v₀` with `p` standard normal entries (drawn from `Xoshiro256StarStar(seed: seed)`),
/// iteration `k = 0, …, iterations − 1` normalises `vₖ`, forms `H vₖ` and sets
/// `ρₖ = vₖᵀ H vₖ`, `vₖ₊₁ = H vₖ`; the result is the last Rayleigh quotient
/// `ρ = ρ_{iterations−1}` of `H^{iterations−1} v₀`.
///
/// For symmetric positive semidefinite `H` with eigenvalues `λ₁ > λ₂ ≥ … ≥ λ_p ≥ 0` and `θ₀` the
/// angle between `v₀` and the leading eigenvector, `ρ` approaches `λ₁` from below
/// (Golub & Van Loan, *Matrix Computations*, 4th ed., §8.2.1):
///
/// ```
/// λ_p ≤ ρ ≤ λ₁,     λ₁ − ρ ≤ (λ₁ − λ_p) tan²θ₀ (λ₂/λ₁)^{2(iterations − 1)}.
/// ```
///
/// For an indefinite `H` (a non-convex inner problem) the iterates align with the eigenvalue of
/// largest magnitude instead; `ρ` is still a Rayleigh quotient, so never above `λ₁`. If `H v`
/// vanishes the estimate is the last Rayleigh quotient (0 for `H = 0`).
///
/// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)`` for
///   `iterations < 1`, and what the problem's ``SecondOrderBilevelProblem/hessianVectorProduct(x:y:v:samples:into:)``
///   throws for a bad `x` or `y`.
/// - Complexity: `iterations` full-batch Hessian-vector products plus O(p) per iteration.
public func largestHessianEigenvalue<P: SecondOrderBilevelProblem>(
    of problem: P, x: [Double], y: [Double], iterations: Int, seed: UInt64 = 0x5eed
) throws -> Double {
    guard iterations >= 1 else {
        throw BilevelError.invalidHyperparameter(name: "iterations", value: "\(iterations)", requirement: "at least 1")
    }
    var rng = Xoshiro256StarStar(seed: seed)
    var v = (0..<problem.innerDimension).map { _ in rng.nextGaussian() }
    var hv = [Double](repeating: 0, count: v.count)
    var lambda = 0.0
    for _ in 0..<iterations {
        let norm = BLAS.norm(v)
        if norm == 0 { break }
        BLAS.scale(&v, by: 1 / norm)
        try problem.hessianVectorProduct(x: x, y: y, v: v, samples: nil, into: &hv)
        lambda = BLAS.dot(v, hv)
        swap(&v, &hv)
    }
    return lambda
}
