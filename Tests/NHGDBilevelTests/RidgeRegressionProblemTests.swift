import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDBilevel

@Suite struct RidgeRegressionProblemTests {
    /// `∇_y g(x, y*(x)) = 0`: the Cholesky solve's backward error makes the residual
    /// `‖H y* − c‖ ≲ p·ε·‖H‖‖y*‖`; we compare with `‖H‖_F‖y*‖ + ‖c‖` scaled by 1e-12 (p ≤ 12, so
    /// p·ε ≈ 3·10⁻¹⁵ leaves a factor 300 of headroom).
    @Test func innerSolutionIsStationary() throws {
        try forAll("ridge y* stationary", cases: 30) { c in
            let d = c.size(1...12), n = c.size(1...80), m = c.size(1...20)
            let noise = c.logUniform(in: 0.05...5)
            var rng = c.rng
            let problem = try RidgeRegression.synthetic(n: n, m: m, d: d, noise: noise, using: &rng)
            let x = c.vector(count: d, in: -4...4)
            c.note("d=\(d) n=\(n) m=\(m) noise=\(noise)")
            let yStar = try problem.solveInner(x: x)
            let gradient = try problem.innerGradient(x: x, y: yStar)
            let h = try problem.hessian(x: x, y: yStar)
            let scale = frobeniusNorm(h) * BLAS.norm(yStar) + BLAS.norm(problem.scaledCrossMoment)
            try c.expect(BLAS.norm(gradient) <= 1e-12 * scale, "‖∇g(y*)‖ = \(BLAS.norm(gradient)), scale \(scale)")
        }
    }

    /// The exact hypergradient equals a central difference of `Φ(x) = f(x, y*(x))` computed by
    /// re-solving the inner problem: a true end-to-end check of the implicit-function formula.
    /// Φ is smooth with |x| ≤ 2; the difference errs by `h²|Φ'''|/6 + ε|Φ|/h ≈ 10⁻¹⁰` relative to
    /// `‖∇Φ‖`-sized quantities for h = ε^{1/3}, plus the two solves' `κ(H)·ε` (κ ≤ ~10⁴ here);
    /// 1e-6 relative to ‖∇Φ‖ is a safe bound.
    @Test func exactHypergradientMatchesFiniteDifferenceOfHyperobjective() throws {
        try forAll("ridge hypergradient end to end", cases: 25) { c in
            let d = c.size(1...8), n = c.size(2...60), m = c.size(1...30)
            let noise = c.logUniform(in: 0.1...2)
            var rng = c.rng
            let problem = try RidgeRegression.synthetic(n: n, m: m, d: d, noise: noise, using: &rng)
            let x = c.vector(count: d, in: -2...2)
            c.note("d=\(d) n=\(n) m=\(m) noise=\(noise) x=\(x)")
            let analytic = try problem.exactHypergradient(x: x)
            let h = cbrt(Double.ulpOfOne)
            var difference = [Double](repeating: 0, count: d)
            for j in 0..<d {
                var plus = x, minus = x
                plus[j] += h
                minus[j] -= h
                difference[j] = (try problem.hyperobjective(x: plus) - problem.hyperobjective(x: minus)) / (2 * h)
            }
            let error = BLAS.norm(zip(analytic, difference).map { $0 - $1 })
            try c.expect(error <= 1e-6 * max(BLAS.norm(analytic), 1e-8),
                         "hypergradient \(analytic) vs difference \(difference)")
            // And the general formula ∇ₓf − J H⁻¹ ∇_y f at y* agrees with the closed form.
            let yStar = try problem.solveInner(x: x)
            let u = try denseSolve(problem.hessian(x: x, y: yStar), problem.outerGradients(x: x, y: yStar).y)
            let general = try problem.crossProduct(x: x, y: yStar, u: u).map { -$0 }
            try c.expect(relativeError(general, analytic) <= 1e-10, "general formula disagrees")
        }
    }

    @Test func oraclesPassFiniteDifferenceCheck() throws {
        try forAll("ridge oracles", cases: 15) { c in
            let d = c.size(1...10), n = c.size(1...50), m = c.size(1...20)
            var rng = c.rng
            let problem = try RidgeRegression.synthetic(n: n, m: m, d: d, noise: c.logUniform(in: 0.2...2),
                                                        testCount: 5, using: &rng)
            let x = c.vector(count: d, in: -2...2), y = c.vector(count: d)
            try expectOraclesPass(problem, at: x, y, checks: 14, in: &c)
        }
    }

    @Test func syntheticProblemRecoversItsParameters() throws {
        var rng = Xoshiro256StarStar(seed: 8)
        let problem = try RidgeRegression.synthetic(n: 4000, m: 500, d: 5, noise: 0.1, testCount: 500, using: &rng)
        let y = try problem.solveInner(x: [Double](repeating: -12, count: 5))
        let metrics = try problem.metrics(x: problem.initialOuter(), y: y)
        // Least squares error ≈ s·√(d/n)/‖y_true‖ ≈ 0.1·0.035/1 ≈ 0.004; 0.05 is > 10 sd away.
        #expect(metrics["parameter_error"]! < 0.05)
        // Validation and test losses ≈ s²/2 = 0.005 at the truth.
        #expect(abs(metrics["validation_loss"]! - 0.005) < 0.002 && abs(metrics["test_loss"]! - 0.005) < 0.002)
        #expect(Set(metrics.keys) == ["validation_loss", "test_loss", "parameter_error"])
    }

    /// Bad data is refused by the constructors; bad points at the doors (estimators,
    /// `checkOracles`), with the argument named.
    @Test func badInputsThrowTypedErrors() throws {
        var rng = Xoshiro256StarStar(seed: 9)
        let p = try RidgeRegression.synthetic(n: 10, m: 5, d: 3, noise: 1, using: &rng)
        #expect(throws: BilevelError.nonFinite(operation: "checkOracles", argument: "y")) {
            try checkOracles(p, at: [0, 0, 0], [1, .infinity, 0])
        }
        var exact = try ExactHypergradient<RidgeRegression>()
        #expect(throws: BilevelError.dimensionMismatch(operation: "exact", expected: "x of length 3", actual: "length 1")) {
            try exact.estimate(problem: p, x: [0], y: [1, 2, 3], using: &rng)
        }
        #expect(throws: BilevelError.self) {
            try RidgeRegression.synthetic(n: 10, m: 5, d: 3, noise: 0, using: &rng)
        }
        #expect(throws: BilevelError.self) {
            try RidgeRegression(trainingInputs: Matrix(rows: 2, columns: 3), trainingTargets: [1, 2],
                                validationInputs: Matrix(rows: 2, columns: 1), validationTargets: [0])
        }
        #expect(throws: BilevelError.self) {
            try RidgeRegression(trainingInputs: Matrix(rows: 2, columns: 3, repeating: .nan), trainingTargets: [1, 2, 3],
                                validationInputs: Matrix(rows: 2, columns: 1), validationTargets: [0])
        }
        #expect(throws: BilevelError.self) {
            try RidgeRegression(trainingInputs: Matrix(rows: 2, columns: 3), trainingTargets: [1, 2, 3],
                                validationInputs: Matrix(rows: 3, columns: 1), validationTargets: [0])
        }
    }
}
