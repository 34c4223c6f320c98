import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDBilevel
import NHGDExperiments

@Suite struct LogisticRegressionProblemTests {
    @Test func oraclesPassFiniteDifferenceCheck() throws {
        try forAll("logistic oracles", cases: 15) { c in
            let d = c.size(1...10), n = c.size(1...60), m = c.size(1...20)
            var rng = c.rng
            let problem = try randomLogisticProblem(d: d, n: n, m: m, using: &rng)
            let x = c.vector(count: d, in: -2...2), y = c.vector(count: d)
            try expectOraclesPass(problem, at: x, y, checks: 14, context: "d=\(d) n=\(n) m=\(m)", in: &c)
        }
    }

    /// End to end: `∇Φ = −J H⁻¹ ∇_y f` at the Newton solution equals a central difference of
    /// `Φ(x) = f(x, y*(x))` with y* re-solved to ‖∇g‖ ≤ 1e-13. The inner tolerance perturbs Φ by
    /// about ‖∇_y f‖·‖H⁻¹‖·1e-13 ≲ 1e-11 (e^x ≥ e^{-1}), divided by 2h ≈ 1.2e-5: ≲ 1e-6 absolute;
    /// with the difference's own O(ε^{2/3}) error, 1e-5 relative to max(‖∇Φ‖, 1e-3) is safe.
    @Test func hypergradientMatchesFiniteDifferenceOfHyperobjective() throws {
        try forAll("logistic hypergradient end to end", cases: 12) { c in
            let d = c.size(1...6), n = c.size(5...60), m = c.size(3...20)
            var rng = c.rng
            let problem = try randomLogisticProblem(d: d, n: n, m: m, using: &rng)
            let x = c.vector(count: d, in: -1...1)
            c.note("d=\(d) n=\(n) m=\(m) x=\(x)")
            func phi(_ x: [Double]) throws -> Double {
                try problem.outerValue(x: x, y: problem.innerSolution(x: x, tolerance: 1e-13))
            }
            let yStar = try problem.innerSolution(x: x, tolerance: 1e-13)
            let u = try denseSolve(problem.hessian(x: x, y: yStar), problem.outerGradients(x: x, y: yStar).y)
            let analytic = try problem.crossProduct(x: x, y: yStar, u: u).map { -$0 }
            let h = cbrt(Double.ulpOfOne)
            var difference = [Double](repeating: 0, count: d)
            for j in 0..<d {
                var plus = x, minus = x
                plus[j] += h
                minus[j] -= h
                difference[j] = (try phi(plus) - phi(minus)) / (2 * h)
            }
            let error = BLAS.norm(zip(analytic, difference).map { $0 - $1 })
            try c.expect(error <= 1e-5 * max(BLAS.norm(analytic), 1e-3), "\(analytic) vs \(difference)")
        }
    }

    @Test func breastCancerTrainsToHighAccuracy() throws {
        var rng = Xoshiro256StarStar(seed: 12)
        let problem = try LogisticRegression.breastCancer(using: &rng)
        #expect(problem.innerDimension == 31 && problem.outerDimension == 31)
        #expect(problem.trainingCount == 300 && problem.outer.data.sampleCount == 134 && problem.test?.sampleCount == 135)
        // Standardised on the training part: its feature means are 0 (to rounding), bias row 1.
        let inputs = problem.data.inputs
        for j in 0..<30 {
            let mean = (0..<300).reduce(0.0) { $0 + inputs[j, $1] } / 300
            #expect(abs(mean) < 1e-12)
        }
        #expect((0..<300).allSatisfy { inputs[30, $0] == 1 })
        let x = [Double](repeating: log(0.01), count: 31)
        let y = try problem.innerSolution(x: x, tolerance: 1e-10)
        let metrics = try problem.metrics(x: x, y: y)
        #expect(Set(metrics.keys) == ["validation_loss", "validation_accuracy", "test_loss", "test_accuracy"])
        // Standardised logistic regression separates this data set at about 97%; 0.9 is far below.
        #expect(metrics["test_accuracy"]! > 0.9 && metrics["validation_accuracy"]! > 0.9)
        #expect(metrics["validation_loss"]! == (try problem.outerValue(x: x, y: y)))
        #expect(try checkOracles(problem, at: x, y).passed(tolerance: oracleTolerance))
    }

    @Test func mnistPairAndValidation() throws {
        let pair = try shippedMNIST.get().binaryPair(positive: 8, negative: 3).scaled(by: 1.0 / 255)
        var rng = Xoshiro256StarStar(seed: 13)
        let parts = try pair.split(trainCount: 100, validationCount: 50, testCount: 50, using: &rng)
        let problem = try LogisticRegression(training: parts.training, validation: parts.validation, test: parts.test)
        #expect(problem.innerDimension == 784 && problem.trainingCount == 100)
        let (gradients, weights) = try problem.perSampleGradients(x: problem.initialOuter(), y: problem.initialInner(),
                                                                  samples: [0, 5, 99])
        #expect(weights == [1, 1, 1])
        // At y = 0, π = 1/2: gᵢ = (1/2 − bᵢ) aᵢ exactly.
        for (j, i) in [0, 5, 99].enumerated() {
            let expected = parts.training.features.column(i).map { $0 * (0.5 - Double(parts.training.labels[i])) }
            #expect(gradients.column(j) == expected)
        }
        let standard = try LogisticRegression.mnistPair(trainCount: 20, validationCount: 10, testCount: 0, using: &rng)
        #expect(standard.innerDimension == 785 && standard.test == nil)
        #expect(Set(try standard.metrics(x: standard.initialOuter(), y: standard.initialInner()).keys)
            == ["validation_loss", "validation_accuracy"])
        let mnist = try shippedMNIST.get()
        #expect(throws: DataError.self) { try LogisticRegression(training: mnist, validation: mnist) }
    }
}
