import Foundation
import NHGDLinearAlgebra
@testable import NHGDBilevel
import NHGDTestSupport
import Testing

/// Least squares with no regularisation (`R = 0·‖y‖²`), so that the Hessian `AAᵀ/n` has rank
/// n < p: the planted low-rank case of the Nyström estimator.
private struct RankDeficientLeastSquares: SecondOrderBilevelProblem {
    let data: LeastSquaresLosses
    let outer: ValidationLoss<LeastSquaresLosses>
    let regularizer: ScalarL2
    var outerDimension: Int { 1 }
}

@Suite("Nyström hypergradient")
struct NystromHypergradientTests {
    /// With k = p Gaussian columns, `Ĥ = H` to the stabilising shift ν and rounding, so
    /// `(Ĥ + ρI)⁻¹∇f` is the exact `H⁻¹∇f` up to the shift: relative error ≤ ρ/μ + κ·(ν + 8(2p)ε‖H‖)/μ.
    /// With ρ = 10⁻¹⁰‖H‖ and κ ≤ a few hundred (EstimatorTests) that is ≲ 1e-7; we require 1e-6.
    @Test func withKEqualToPItIsExact() throws {
        try forAll("nystrom k = p = exact", cases: 25) { c in
            let (problem, x, y) = try EstimatorTests.ridgeCase(&c, maxD: 12)
            let p = problem.innerDimension
            let largest = try SymmetricEigendecomposition(problem.hessian(x: x, y: y)).values.last!
            var estimator = try NystromHypergradient<RidgeRegression>(rank: p, shift: 1e-10 * largest, columns: .gaussian())
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let error = relativeError(estimate.hypergradient, try problem.exactHypergradient(x: x))
            try c.expect(error <= 1e-6, "relative error \(error)")
            try c.expect(estimate.oracleCalls.hessianVectorProducts == p, "k HVPs, got \(estimate.oracleCalls)")
        }
    }

    /// A Hessian of rank n ≤ k: `Ĥ = H` (Gaussian columns cover its range almost surely), so u is
    /// `(H + ρI)⁻¹∇f` for any ρ, to the stabilising shift (relative ν/ρ) and rounding
    /// (κ(H + ρI)·8(p + k)ε, κ ≤ ‖H‖/ρ + 1 = 11 here).
    @Test func forAHessianOfRankAtMostKItIsExact() throws {
        try forAll("nystrom on rank(H) ≤ k", cases: 25) { c in
            let n = c.size(1...5), p = n + c.size(2...10), k = n + c.int(in: 0...(p - n))
            let data = LeastSquaresLosses(features: c.gaussianMatrix(rows: p, columns: n), targets: c.vector(count: n))
            let validation = LeastSquaresLosses(features: c.gaussianMatrix(rows: p, columns: 4), targets: c.vector(count: 4))
            let problem = RankDeficientLeastSquares(data: data, outer: ValidationLoss(validation),
                                                    regularizer: try ScalarL2(coefficient: 0))
            let x = [0.0], y = c.vector(count: p)
            var h = Matrix(rows: p, columns: p)
            try data.addHessian(at: y, coefficients: [Double](repeating: 1 / Double(n), count: n), to: &h)
            let rho = 0.1 * (try SymmetricEigendecomposition(h).values.last!)
            c.note("n=\(n) p=\(p) k=\(k)")
            var estimator = try NystromHypergradient<RankDeficientLeastSquares>(rank: k, shift: rho, columns: .gaussian())
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            var shifted = h
            for i in 0..<p { shifted[i, i] += rho }
            let reference = try denseSolve(shifted, problem.outerGradients(x: x, y: y).y)
            try c.expect(relativeError(estimate.solution, reference) <= 1e-9,
                         "u differs from (H + ρI)⁻¹∇f by \(relativeError(estimate.solution, reference))")
        }
    }

    /// `refreshInterval` reuses one approximation: k HVPs on every `refreshInterval`-th estimate
    /// only, and `reset` forgets it; bad settings are typed errors.
    @Test func reuseAndHyperparameters() throws {
        var rng = Xoshiro256StarStar(seed: 5)
        let problem = try RidgeRegression.synthetic(n: 60, m: 20, d: 6, noise: 1, using: &rng)
        let x = problem.initialOuter(), y = try problem.solveInner(x: x)
        var estimator = try NystromHypergradient<RidgeRegression>(rank: 3, shift: 0.1, refreshInterval: 3)
        let counts = try (0..<7).map { _ in
            try estimator.estimate(problem: problem, x: x, y: y, using: &rng).oracleCalls.hessianVectorProducts
        }
        #expect(counts == [3, 0, 0, 3, 0, 0, 3])
        estimator.reset()
        #expect(estimator.approximation == nil)
        #expect(throws: BilevelError.self) { try NystromHypergradient<RidgeRegression>(rank: 0) }
        #expect(throws: BilevelError.self) { try NystromHypergradient<RidgeRegression>(shift: 0) }
        #expect(throws: BilevelError.self) { try NystromHypergradient<RidgeRegression>(refreshInterval: 0) }
        var tooMany = try NystromHypergradient<RidgeRegression>(rank: 7)
        #expect(throws: BilevelError.self) { try tooMany.estimate(problem: problem, x: x, y: y, using: &rng) }
    }
}
