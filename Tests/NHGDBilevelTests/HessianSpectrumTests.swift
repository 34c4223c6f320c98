import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDBilevel

@Suite struct HessianSpectrumTests {
    /// Power iteration on a ridge Hessian with a planted spectrum, against the dense
    /// `SymmetricEigendecomposition` of ``RidgeRegression/hessian(x:y:)``.
    ///
    /// With `A = √p·S`, `S = Q diag(√μ) Qᵀ` (p × p, n = p samples, noise 1) and `x = log(c)·1`, the
    /// Hessian is `A Aᵀ/n + c I = Q diag(μ + c) Qᵀ`; μ is chosen so that `λ₁ = 1` and
    /// `λ₂ = r ∈ [0.2, 0.95]` (the eigen-gap). The a-priori bound of the power method
    /// (Golub & Van Loan §8.2.1), with `θ₀` the angle between the documented start vector and
    /// the leading eigenvector, is
    /// `0 ≤ λ₁ − ρ ≤ (λ₁ − λ_p) tan²θ₀ r^{2(K−1)}` and `ρ ≥ λ_p`.
    /// Rounding: ρ, the dense eigenvalues and the HVPs each err by ≲ p·ε·‖H‖ ≈ 10⁻¹⁴ for
    /// p ≤ 40, ‖H‖ = 1; the slack 1e-12 leaves a factor 100.
    @Test func powerIterationApproachesTheLargestEigenvalueFromBelowAtTheGapRate() throws {
        try forAll("largestHessianEigenvalue vs dense eigendecomposition", cases: 40) { c in
            let p = c.size(2...40)
            let r = c.double(in: 0.2...0.95)
            let shift = c.logUniform(in: 1e-4...1e-2)
            let iterations = c.int(in: 1...80)
            let seed = UInt64(c.int(in: 0...1_000_000))
            var spectrum = [1.0, r]
            for _ in 2..<p { spectrum.append(c.double(in: shift...r)) }
            let s = c.symmetricMatrix(eigenvalues: spectrum.map { ($0 - shift).squareRoot() })
            var a = s
            BLAS.scale(&a.storage, by: Double(p).squareRoot())
            let problem = try RidgeRegression(
                trainingInputs: a, trainingTargets: [Double](repeating: 0, count: p),
                validationInputs: Matrix(rows: p, columns: 1, repeating: 1), validationTargets: [0])
            let x = [Double](repeating: log(shift), count: p), y = c.vector(count: p)
            c.note("p=\(p) r=\(r) shift=\(shift) iterations=\(iterations) seed=\(seed)")

            let rho = try largestHessianEigenvalue(of: problem, x: x, y: y, iterations: iterations, seed: seed)
            let reference = try SymmetricEigendecomposition(problem.hessian(x: x, y: y))
            let lambda1 = reference.values[p - 1], lambda2 = reference.values[p - 2], lambdaP = reference.values[0]
            var rng = Xoshiro256StarStar(seed: seed)
            let start = (0..<p).map { _ in rng.nextGaussian() }
            let along = (0..<p).reduce(0.0) { $0 + reference.vectors[$1, p - 1] * start[$1] }
            let tan2 = (BLAS.dot(start, start) - along * along) / (along * along)
            let bound = (lambda1 - lambdaP) * tan2 * pow(lambda2 / lambda1, 2 * Double(iterations - 1))
            let slack = 1e-12 * lambda1
            c.note("λ₁=\(lambda1) λ₂=\(lambda2) λ_p=\(lambdaP) ρ=\(rho) tan²θ₀=\(tan2) bound=\(bound)")
            try c.expect(rho <= lambda1 + slack, "ρ above λ₁ by \(rho - lambda1)")
            try c.expect(rho >= lambdaP - slack, "ρ below λ_p by \(lambdaP - rho)")
            try c.expect(lambda1 - rho <= bound + slack, "λ₁ − ρ = \(lambda1 - rho) exceeds the power-method bound")
        }
    }

    /// Run for as many iterations as the bound above needs to promise `λ₁ − ρ ≤ 10⁻¹² λ₁`
    /// (`K = 1 + ⌈log(10⁻¹² λ₁ / ((λ₁ − λ_p) tan²θ₀)) / (2 log(λ₂/λ₁))⌉`, gap `λ₂/λ₁ ≤ 0.9`), the
    /// estimate is `λ₁` to 10⁻¹¹ relative (the 10⁻¹² of the bound plus the rounding above).
    @Test func enoughIterationsReachTheLargestEigenvalue() throws {
        try forAll("largestHessianEigenvalue converged", cases: 15) { c in
            let p = c.size(2...30)
            let r = c.double(in: 0.2...0.9)
            var spectrum = [1.0, r]
            for _ in 2..<p { spectrum.append(c.double(in: 0.01...r)) }
            let s = c.symmetricMatrix(eigenvalues: spectrum.map { ($0 - 0.001).squareRoot() })
            var a = s
            BLAS.scale(&a.storage, by: Double(p).squareRoot())
            let problem = try RidgeRegression(
                trainingInputs: a, trainingTargets: [Double](repeating: 0, count: p),
                validationInputs: Matrix(rows: p, columns: 1, repeating: 1), validationTargets: [0])
            let x = [Double](repeating: log(0.001), count: p), y = [Double](repeating: 0, count: p)
            let reference = try SymmetricEigendecomposition(problem.hessian(x: x, y: y))
            let lambda1 = reference.values[p - 1], lambda2 = reference.values[p - 2], lambdaP = reference.values[0]
            var rng = Xoshiro256StarStar(seed: 0x5eed)  // the default seed's start vector
            let start = (0..<p).map { _ in rng.nextGaussian() }
            let along = (0..<p).reduce(0.0) { $0 + reference.vectors[$1, p - 1] * start[$1] }
            let tan2 = (BLAS.dot(start, start) - along * along) / (along * along)
            let needed = log(1e-12 * lambda1 / ((lambda1 - lambdaP) * tan2)) / (2 * log(lambda2 / lambda1))
            let iterations = 1 + max(0, Int(needed.rounded(.up)))
            let rho = try largestHessianEigenvalue(of: problem, x: x, y: y, iterations: iterations)
            c.note("p=\(p) r=\(r) tan²θ₀=\(tan2) iterations=\(iterations) ρ=\(rho) λ₁=\(lambda1)")
            try c.expect(abs(rho - lambda1) <= 1e-11 * lambda1, "relative error \(abs(rho - lambda1) / lambda1)")
        }
    }

    @Test func rejectsFewerThanOneIteration() throws {
        var rng = Xoshiro256StarStar(seed: 7)
        let problem = try RidgeRegression.synthetic(n: 5, m: 3, d: 2, noise: 1, using: &rng)
        for iterations in [0, -3] {
            #expect(throws: BilevelError.self) {
                _ = try largestHessianEigenvalue(of: problem, x: [0, 0], y: [0, 0], iterations: iterations)
            }
        }
    }
}
