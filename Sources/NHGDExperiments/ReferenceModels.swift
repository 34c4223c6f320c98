import NHGDBilevel
import NHGDLinearAlgebra

/// The reference models of a hyper-cleaning run, each the inner problem trained to convergence
/// at fixed weights by the same full-batch solver (``InnerSolver``, L-BFGS from the problem's
/// initial point, so a non-convex model starts from the same seeded initialisation):
///
/// - `corrupted`: every training sample at weight ≈ 1 (`x = 30`, `σ(30) = 1 − 10⁻¹³`);
/// - `oracle`: the samples whose label the corruption replaced at weight ≈ 0, the rest ≈ 1;
/// - `oracleUnchanged`: only the samples whose label actually changed at ≈ 0 (a replaced label
///   equals the true one with probability 1/K, and such samples are clean in fact);
/// - `cleaned`: the weights `σ(x)` hyper-cleaning learned.
///
/// `gapClosed = (cleaned − corrupted) / (oracle − corrupted)` in test accuracy.
public struct CleaningReferences: Sendable, Equatable {
    public var corrupted: Double
    public var oracle: Double
    public var oracleUnchanged: Double
    public var cleaned: Double

    /// The share of the gap between the corrupted and the oracle model that cleaning closed.
    public var gapClosed: Double { (cleaned - corrupted) / (oracle - corrupted) }

    /// Trains the four reference models of `problem` (test accuracy of each).
    /// - Parameters:
    ///   - learnedOuter: the learned x (one log-odds weight per training sample).
    ///   - corruption: what the corruption did to the training labels.
    ///   - solver: the budget (gradient tolerance, iterations) every model is trained with.
    /// - Throws: ``DataError/invalidValue(name:value:requirement:)`` when the problem has no
    ///   test set or the corruption record does not cover its training samples.
    public init<Model: ClassifierSampleLosses>(
        _ problem: HyperCleaning<Model>, learnedOuter: [Double], corruption: LabelCorruption, solver: InnerSolver
    ) throws {
        let n = problem.trainingCount
        guard corruption.replaced.count == n else {
            throw DataError.invalidValue(name: "corruption record", value: "\(corruption.replaced.count) samples",
                                         requirement: "one entry per training sample (\(n))")
        }
        func testAccuracy(_ weights: [Double]) throws -> Double {
            let fit = try solver.minimize(problem, x: weights)
            guard let accuracy = try problem.metrics(x: weights, y: fit.y)["test_accuracy"] else {
                throw DataError.invalidValue(name: "test set", value: "none", requirement: "a test set to measure accuracy on")
            }
            return accuracy
        }
        corrupted = try testAccuracy([Double](repeating: 30, count: n))
        oracle = try testAccuracy(corruption.replaced.map { $0 ? -30 : 30 })
        oracleUnchanged = try testAccuracy(corruption.changed.map { $0 ? -30 : 30 })
        cleaned = try testAccuracy(learnedOuter)
    }
}

/// `½ / L` with L the largest eigenvalue of the full-batch inner Hessian at the problem's
/// starting point, estimated by `iterations` power iterations
/// (``largestHessianEigenvalue(of:x:y:iterations:seed:)``): Neumann, AmIGO and SOBA need
/// `η ≤ 1/L`; the factor ½ leaves room for L to grow as the weights move.
public func safeStepSize<P: SecondOrderBilevelProblem>(_ problem: P, iterations: Int = 30) throws -> Double {
    let lambda = try largestHessianEigenvalue(
        of: problem, x: problem.initialOuter(), y: problem.initialInner(), iterations: iterations)
    return 0.5 / max(lambda, .leastNormalMagnitude)
}
