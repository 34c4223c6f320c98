import Testing
import NHGDLinearAlgebra
@testable import NHGDBilevel
import NHGDTestSupport

/// Closed-form full-batch gradients against the generic blockwise assembly from per-sample
/// gradients (the same sums in another order: rounding only, ≲ n·eps relative).
@Test func hyperCleaningInnerGradientMatchesBlockwiseAssembly() throws {
    var rng = Xoshiro256StarStar(seed: 5)
    let problem = try DataHyperCleaning.mnist(trainCount: 300, validationCount: 50, testCount: 0,
                                              corruptionFraction: 0.5, using: &rng)
    try forAll("DataHyperCleaning.innerGradient = blockwise", cases: 8) { c in
        let x = c.vector(count: problem.outerDimension, in: -3...3)
        let y = c.vector(count: problem.innerDimension).map { 0.05 * $0 }
        let fast = try problem.innerGradient(x: x, y: y)
        let reference = try problem.blockwiseInnerGradient(x: x, y: y, blockSize: c.int(in: 1...300))
        let error = relativeError(fast, reference)
        try c.expect(error <= 1e-12, "relative error \(error)")
    }
}
