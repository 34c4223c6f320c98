import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDBilevel

/// Tolerance for ``checkOracles`` on the built-in problems. Central differences with
/// `h = ε^{1/3}·scale` err by `h²|φ'''|/6 + ε|φ|/h ≈ 4·10⁻¹¹` relative for well-scaled
/// functions; the test points keep |x|, |y| = O(1) and data = O(1), so magnitude and
/// curvature ratios stay below ~10³, and 1e-6 is a safe bound that a wrong oracle (off by a
/// factor, a sign, a missing term: errors of order 1e-2 or more) cannot meet.
let oracleTolerance = 1e-6

/// The oracle check of the problems' property tests: ``checkOracles`` at (x, y) with the case's
/// generator, its report added to the case's notes (after `context`), and a failure unless all
/// `checks` checks ran and each passed within ``oracleTolerance``.
func expectOraclesPass(_ problem: some BilevelProblem, at x: [Double], _ y: [Double], checks: Int,
                       context: String = "", in c: inout PropertyCase) throws {
    let report = try checkOracles(problem, at: x, y, using: &c.rng)
    c.note(context.isEmpty ? "\(report)" : "\(context)\n\(report)")
    try c.expect(report.passed(tolerance: oracleTolerance), "oracle check failed")
    try c.expect(report.errors.count == checks, "expected \(checks) checks, got \(report.errors.keys.sorted())")
}

/// A random logistic-regression problem: Gaussian inputs, labels drawn from the model.
func randomLogisticProblem(d: Int, n: Int, m: Int, using rng: inout Xoshiro256StarStar) throws -> LogisticRegression {
    let truth = (0..<d).map { _ in rng.nextGaussian() }
    func draw(_ count: Int) throws -> Dataset {
        let a = Matrix.gaussian(rows: d, columns: count, using: &rng)
        let labels = (0..<count).map { i -> Int in
            let z = (0..<d).reduce(0.0) { $0 + a[$1, i] * truth[$1] }
            return Double.random(in: 0..<1, using: &rng) < 1 / (1 + exp(-z)) ? 1 : 0
        }
        return try Dataset(name: "logistic", features: a, labels: labels, classCount: 2)
    }
    return try LogisticRegression(training: draw(n), validation: draw(m), test: draw(m))
}

/// A random hyper-cleaning problem: Gaussian inputs with a bias feature, labels from a random
/// softmax model, a random fraction of training labels corrupted.
func randomCleaningProblem(d: Int, k: Int, n: Int, m: Int, l2: Double,
                           using rng: inout Xoshiro256StarStar) throws -> DataHyperCleaning {
    let truth = Matrix.gaussian(rows: d + 1, columns: k, using: &rng)
    func draw(_ count: Int) throws -> Dataset {
        let plain = try Dataset(name: "x", features: Matrix.gaussian(rows: d, columns: count, using: &rng),
                                labels: [Int](repeating: 0, count: count), classCount: k).withBiasFeature()
        var logits = Matrix(rows: k, columns: count)
        try BLAS.gemm(.transpose, .none, truth, plain.features, beta: 0, &logits)
        let labels = (0..<count).map { i in (0..<k).max { logits[$0, i] < logits[$1, i] }! }
        return try plain.relabeled(labels)
    }
    let (training, record) = try draw(n).corruptingLabels(fraction: Double.random(in: 0.2...0.6, using: &rng), using: &rng)
    return try DataHyperCleaning(training: training, corruption: record, validation: draw(m), test: draw(m), l2: l2)
}

/// Wraps a problem and damages one oracle, to show that ``checkOracles`` catches it.
struct DamagedProblem<Base: DenseHessianProblem & PerSampleLossProblem>: DenseHessianProblem, PerSampleLossProblem {
    enum Damage: CaseIterable { case perSampleSign, crossScale, hvpMissingRegularizer, outerGradientScale, curvature }
    let base: Base
    let damage: Damage

    var innerDimension: Int { base.innerDimension }
    var outerDimension: Int { base.outerDimension }
    var trainingCount: Int { base.trainingCount }
    var validationCount: Int { base.validationCount }
    func initialOuter() -> [Double] { base.initialOuter() }
    func initialInner() -> [Double] { base.initialInner() }
    func perSampleGradients(x: [Double], y: [Double], samples: [Int], into g: inout Matrix, weights: inout [Double]) throws {
        try base.perSampleGradients(x: x, y: y, samples: samples, into: &g, weights: &weights)
        if damage == .perSampleSign { g.storage[0] = -g.storage[0] + 0.1 }
    }
    func regularizerGradient(x: [Double], y: [Double], into gradient: inout [Double]) throws {
        try base.regularizerGradient(x: x, y: y, into: &gradient)
    }
    func regularizerCurvature(x: [Double], y: [Double]) throws -> [Double] {
        try base.regularizerCurvature(x: x, y: y).map { damage == .curvature ? 1.05 * $0 : $0 }
    }
    func crossProduct(x: [Double], y: [Double], u: [Double]) throws -> [Double] {
        try base.crossProduct(x: x, y: y, u: u).map { damage == .crossScale ? 1.01 * $0 : $0 }
    }
    func innerValue(x: [Double], y: [Double]) throws -> Double { try base.innerValue(x: x, y: y) }
    func outerValue(x: [Double], y: [Double]) throws -> Double { try base.outerValue(x: x, y: y) }
    func outerGradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        let (gx, gy) = try base.outerGradients(x: x, y: y)
        return (gx, damage == .outerGradientScale ? gy.map { 0.99 * $0 } : gy)
    }
    func metrics(x: [Double], y: [Double]) throws -> [String: Double] { try base.metrics(x: x, y: y) }
    func hessianVectorProduct(x: [Double], y: [Double], v: [Double], samples: [Int]?, into result: inout [Double]) throws {
        try base.hessianVectorProduct(x: x, y: y, v: v, samples: samples, into: &result)
        if damage == .hvpMissingRegularizer {
            let curvature = try base.regularizerCurvature(x: x, y: y)
            for j in result.indices { result[j] -= curvature[j] * v[j] }
        }
    }
    func hessian(x: [Double], y: [Double]) throws -> Matrix { try base.hessian(x: x, y: y) }
    func perSampleLosses(y: [Double], samples: [Int]) throws -> [Double] { try base.perSampleLosses(y: y, samples: samples) }
    func regularizerValue(x: [Double], y: [Double]) throws -> Double { try base.regularizerValue(x: x, y: y) }
}

@Suite struct OracleCheckTests {
    /// Every damage is caught by the check it concerns (and the report says which).
    @Test func detectsDamagedOracles() throws {
        var rng = Xoshiro256StarStar(seed: 21)
        let ridge = try RidgeRegression.synthetic(n: 30, m: 20, d: 5, noise: 0.5, using: &rng)
        let x = (0..<5).map { _ in rng.nextGaussian() }, y = (0..<5).map { _ in rng.nextGaussian() }
        #expect(try checkOracles(ridge, at: x, y).passed(tolerance: oracleTolerance))
        let expectedFailure: [DamagedProblem<RidgeRegression>.Damage: String] = [
            .perSampleSign: "perSampleGradients", .crossScale: "crossProduct",
            .hvpMissingRegularizer: "hessianVectorProduct", .outerGradientScale: "outerGradientY",
            .curvature: "regularizerCurvature",
        ]
        for damage in DamagedProblem<RidgeRegression>.Damage.allCases {
            let report = try checkOracles(DamagedProblem(base: ridge, damage: damage), at: x, y)
            #expect(!report.passed(tolerance: oracleTolerance), "\(damage) not detected:\n\(report)")
            let key = expectedFailure[damage]!
            #expect((report.errors[key] ?? 0) > 1e-4, "\(damage): \(key) error too small:\n\(report)")
        }
    }

    @Test func reportSemantics() {
        let report = OracleCheckReport(errors: ["a": 1e-9, "b": 3e-7, "c": 2e-8], innerStep: 1e-5, outerStep: 1e-5)
        #expect(report.passed(tolerance: 1e-6) && !report.passed(tolerance: 1e-7))
        #expect(report.worst?.name == "b")
        let bad = OracleCheckReport(errors: ["a": .nan], innerStep: 1e-5, outerStep: 1e-5)
        #expect(!bad.passed())
    }

    @Test func rejectsBadPoints() throws {
        var rng = Xoshiro256StarStar(seed: 4)
        let ridge = try RidgeRegression.synthetic(n: 5, m: 5, d: 3, noise: 1, using: &rng)
        #expect(throws: BilevelError.self) { try checkOracles(ridge, at: [0, 0], [0, 0, 0]) }
        #expect(throws: BilevelError.self) { try checkOracles(ridge, at: [0, 0, 0], [0, .nan, 0]) }
    }
}
