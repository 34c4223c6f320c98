import Testing
import NHGDLinearAlgebra
@testable import NHGDBilevel
import NHGDExperiments
import NHGDTestSupport

/// The inner gradient by one combination call against its assembly from per-sample gradients
/// (the combination with C = I, in blocks, weighted and summed): the same sums in another
/// order, so rounding only, ≲ n·eps relative.
@Test func innerGradientMatchesPerSampleAssembly() throws {
    var rng = Xoshiro256StarStar(seed: 5)
    let problem = try CleaningExperiment.mnist(trainCount: 300, validationCount: 50, testCount: 0,
                                              corruptionFraction: 0.5, using: &rng).problem
    try forAll("innerGradient = Σ ωᵢ gᵢ / n + ∇R", cases: 8) { c in
        let x = c.vector(count: problem.outerDimension, in: -3...3)
        let y = c.vector(count: problem.innerDimension).map { 0.05 * $0 }
        let fast = try problem.innerGradient(x: x, y: y)
        let n = problem.trainingCount, block = c.int(in: 1...300)
        var reference = [Double](repeating: 0, count: problem.innerDimension)
        problem.regularizer.addGradient(x: x, y: y, scaledBy: 1, to: &reference)
        var start = 0
        while start < n {
            let samples = Array(start..<min(n, start + block))
            let (gradients, weights) = try problem.perSampleGradients(x: x, y: y, samples: samples)
            try BLAS.gemv(.none, alpha: 1 / Double(n), gradients, weights, beta: 1, &reference)
            start += samples.count
        }
        let error = relativeError(fast, reference)
        try c.expect(error <= 1e-12, "relative error \(error)")
    }
}
