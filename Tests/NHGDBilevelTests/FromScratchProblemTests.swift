import Foundation
import NHGDBilevel
import NHGDLinearAlgebra
import NHGDSketches
import NHGDTestSupport
import Testing

/// A problem written from scratch (``LeastSquaresProblem``: a data term of four oracles and a
/// problem of five members) gets every derived oracle right and runs through the optimiser
/// with NHGD and CG, as the built-in problems do.
@Suite("A problem written from scratch")
struct FromScratchProblemTests {
    @Test func passesTheOracleCheck() throws {
        try forAll("checkOracles on the from-scratch least squares", cases: 30) { c in
            let p = c.size(1...12), n = 2 * p + c.int(in: 3...20), m = c.int(in: 3...20)
            var rng = c.rng.split()
            let problem = LeastSquaresProblem.random(p: p, n: n, m: m, using: &rng)
            let x = c.vector(count: p, in: -2...1), y = c.vector(count: p)
            let report = try checkOracles(problem, at: x, y, using: &c.rng)
            c.note(report.description)
            // The fourth-order differences resolve a smooth, well-scaled φ to O(ε^{4/5}) ≈ 3e-13
            // relative; the least-squares terms have no cancellation, so 1e-8 is generous.
            try c.expect(report.passed(tolerance: 1e-8), "worst \(report.worst.map { "\($0.name) \($0.error)" } ?? "none")")
            try c.expect(report.errors.count == 14, "checked \(report.errors.count) oracles, expected 14")
        }
    }

    /// Twenty outer iterations of each method from x₀ lower the hyperobjective
    /// `Φ(x) = f(x, y*(x))` (closed form): the estimates point downhill. CG-p on a quadratic with
    /// T = 50 inner steps is nearly the exact hypergradient; NHGD with a dense Fisher of the
    /// residuals is a consistent but biased one — both must make Φ decrease, not only run.
    @Test func runsNHGDAndConjugateGradientsThroughTheOptimizer() throws {
        try forAll("NHGD and CG on the from-scratch problem", cases: 4) { c in
            let p = c.size(3...8)
            var rng = c.rng.split()
            let problem = LeastSquaresProblem.random(p: p, n: 40 * p, m: 20, noise: 0.5, using: &rng)
            var configuration = BilevelOptimizerConfiguration()
            configuration.outerIterations = 20
            configuration.innerSteps = 50
            configuration.batchSize = 16
            configuration.innerLearningRate = 0.05
            configuration.outerLearningRate = 0.05
            configuration.seed = c.rng.next()
            func hyperobjective(_ x: [Double]) throws -> Double {
                try problem.outerValue(x: x, y: problem.closedFormInnerSolution(x: x))
            }
            let start = try hyperobjective(problem.initialOuter())
            var cg = try BilevelOptimizer(
                problem: problem, estimator: ConjugateGradientHypergradient<LeastSquaresProblem>(iterations: p),
                configuration: configuration)
            try cg.run()
            let nhgd = try NaturalHypergradient<LeastSquaresProblem, DenseFisher>(
                sketch: DenseFisher(dimension: p), damping: 1e-6,
                columns: CurvatureColumnRequest(compression: .none, forgetting: .constant(0.05)))
            var natural = try BilevelOptimizer(problem: problem, estimator: nhgd, configuration: configuration)
            try natural.run()
            let (afterCG, afterNHGD) = (try hyperobjective(cg.x), try hyperobjective(natural.x))
            c.note("Φ(x₀) = \(start), after CG \(afterCG), after NHGD \(afterNHGD)")
            try c.expect(afterCG < start, "CG did not lower Φ")
            try c.expect(afterNHGD < start, "NHGD did not lower Φ")
            try c.expect(natural.estimator.sketch.ingestedCount == 20 * 50 * 16, "NHGD saw \(natural.estimator.sketch.ingestedCount) columns")
        }
    }
}
