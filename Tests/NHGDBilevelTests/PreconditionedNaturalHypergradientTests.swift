import Foundation
import NHGDLinearAlgebra
import NHGDSketches
@testable import NHGDBilevel
import NHGDTestSupport
import Testing

/// `nhgd-pcg`: NHGD's sketch as the preconditioner of warm-started CG on the true Hessian.
@Suite("Sketch-preconditioned NHGD")
struct PreconditionedNaturalHypergradientTests {
    /// A ridge case (well conditioned, see EstimatorTests) with NHGD's sketch fed every training
    /// gradient at y*.
    private func fedCase(_ c: inout PropertyCase, rank: Int)
        throws -> (RidgeRegression, [Double], [Double], NaturalHypergradient<RidgeRegression, FrequentDirectionsSketch>) {
        let (problem, x, y) = try EstimatorTests.ridgeCase(&c, maxD: 16)
        var natural = try NaturalHypergradient<RidgeRegression, FrequentDirectionsSketch>(
            sketch: FrequentDirectionsSketch(dimension: problem.innerDimension, rank: rank, compensation: .scalar),
            damping: 1e-3)
        try EstimatorTests.observeAll(&natural, problem, y: y, block: 16)
        return (problem, x, y, natural)
    }

    /// K = p PCG steps with full-batch HVPs reach the exact hypergradient (finite termination,
    /// as plain CG: the residual falls to ≲ κ·1e-13), whatever the sketch; the estimate's
    /// a-posteriori bound holds against the dense u; the oracle counts are K + (warm start) HVPs.
    @Test func withPStepsItIsExact() throws {
        try forAll("nhgd-pcg with K = p = exact", cases: 30) { c in
            let (problem, x, y, natural) = try fedCase(&c, rank: c.size(1...4))
            let p = problem.innerDimension
            var estimator = try PreconditionedNaturalHypergradient(natural, steps: p)
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let error = relativeError(estimate.hypergradient, try problem.exactHypergradient(x: x))
            try c.expect(error <= 1e-8, "relative error \(error)")
            try c.expect(estimate.oracleCalls.hessianVectorProducts <= p + 1, "HVPs \(estimate.oracleCalls)")
            if let bound = estimate.errorBound {
                let exactU = try denseSolve(problem.hessian(x: x, y: y), problem.outerGradients(x: x, y: y).y)
                try c.expect(relativeError(estimate.solution, exactU) <= bound + 1e-12, "u error above its bound")
            }
        }
    }

    /// One step from NHGD's own solution cannot be worse than it in the H-norm (a CG step
    /// minimises the H-norm error along its direction), and warm-started steps at a fixed point
    /// keep improving: after 3 estimates the error is below the first estimate's.
    @Test func eachStepImprovesOnTheSketchSolution() throws {
        try forAll("nhgd-pcg improves on NHGD", cases: 25) { c in
            var (problem, x, y, natural) = try fedCase(&c, rank: 2)
            let h = try problem.hessian(x: x, y: y)
            let exactU = try denseSolve(h, problem.outerGradients(x: x, y: y).y)
            func hError(_ u: [Double]) -> Double {
                let e = zip(u, exactU).map { $0 - $1 }
                return zip(e, referenceProduct(h, e)).reduce(0) { $0 + $1.0 * $1.1 }.squareRoot()
            }
            let plain = try natural.estimate(problem: problem, x: x, y: y, using: &c.rng)
            var estimator = try PreconditionedNaturalHypergradient(natural, steps: 1)
            let first = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            var later = first
            for _ in 0..<2 { later = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng) }
            let scale = hError([Double](repeating: 0, count: exactU.count))
            try c.expect(hError(first.solution) <= hError(plain.solution) + 1e-12 * scale, "the step made u worse")
            try c.expect(hError(later.solution) <= hError(first.solution) + 1e-12 * scale, "warm steps made u worse")
        }
    }
}
