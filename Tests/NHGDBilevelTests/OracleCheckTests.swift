import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDBilevel
import NHGDExperiments

/// Tolerance for ``checkOracles`` on the built-in problems. Fourth-order central differences
/// with `h = ε^{1/5}·scale` err by `O(ε^{4/5}) ≈ 3·10⁻¹³` relative for well-scaled functions; the test points keep |x|, |y| = O(1) and data = O(1), so magnitude and
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

/// One damaged term of ridge regression, to show that ``checkOracles`` catches each kind of
/// mistake a user's own term could make.
enum Damage: CaseIterable {
    case combinationSign, projectionScale, hvpScale, crossScale, outerGradientScale, curvature
}

/// The ridge data term with one damaged oracle.
struct DamagedLosses: DenseHessianSampleLosses {
    let base: LinearModel<SquaredError>
    let damage: Damage
    var parameterCount: Int { base.parameterCount }
    var sampleCount: Int { base.sampleCount }
    func losses(at y: [Double], samples: [Int]?) throws -> [Double] { try base.losses(at: y, samples: samples) }
    func gradientCombinations(at y: [Double], samples: [Int]?, coefficients: Matrix, into result: inout Matrix) throws {
        try base.gradientCombinations(at: y, samples: samples, coefficients: coefficients, into: &result)
        if damage == .combinationSign { result.storage[0] = -result.storage[0] + 0.1 }
    }
    func gradientProjections(at y: [Double], along u: [Double], samples: [Int]?) throws -> [Double] {
        try base.gradientProjections(at: y, along: u, samples: samples).map { damage == .projectionScale ? 1.01 * $0 : $0 }
    }
    func hessianVectorProduct(at y: [Double], v: [Double], samples: [Int]?, coefficients: [Double],
                              into result: inout [Double]) throws {
        try base.hessianVectorProduct(at: y, v: v, samples: samples, coefficients: coefficients, into: &result)
        if damage == .hvpScale { BLAS.scale(&result, by: 0.9) }
    }
    func addHessian(at y: [Double], coefficients: [Double], to h: inout Matrix) throws {
        try base.addHessian(at: y, coefficients: coefficients, to: &h)
    }
}

/// Per-feature L2 with a damaged curvature or cross product.
struct DamagedRegularizer: Regularizer {
    let damage: Damage
    let base = PerFeatureL2()
    func value(x: [Double], y: [Double]) -> Double { base.value(x: x, y: y) }
    func addGradient(x: [Double], y: [Double], scaledBy scale: Double, to result: inout [Double]) {
        base.addGradient(x: x, y: y, scaledBy: scale, to: &result)
    }
    func curvature(x: [Double], y: [Double]) -> Diagonal {
        Diagonal(entries: base.curvature(x: x, y: y).entries.map { damage == .curvature ? 1.05 * $0 : $0 })
    }
    func addHessianProduct(x: [Double], y: [Double], v: [Double], to result: inout [Double]) {
        base.addHessianProduct(x: x, y: y, v: v, to: &result)
    }
    func addCrossProduct(x: [Double], y: [Double], u: [Double], to result: inout [Double]) {
        var part = [Double](repeating: 0, count: result.count)
        base.addCrossProduct(x: x, y: y, u: u, to: &part)
        BLAS.axpy(damage == .crossScale ? 1.01 : 1, part, &result)
    }
}

/// The validation loss with a damaged ∇ᵧf.
struct DamagedOuter: OuterObjective {
    let base: ValidationLoss<LinearModel<SquaredError>>
    let damage: Damage
    func value(x: [Double], y: [Double]) throws -> Double { try base.value(x: x, y: y) }
    func gradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        let (gx, gy) = try base.gradients(x: x, y: y)
        return (gx, damage == .outerGradientScale ? gy.map { 0.99 * $0 } : gy)
    }
}

/// Ridge regression with one damaged term, under sigmoid sample weights (so that the
/// projections enter the cross product).
struct DamagedProblem: DenseHessianProblem {
    let data: DamagedLosses
    let weighting = SigmoidWeights()
    let regularizer: DamagedRegularizer
    let outer: DamagedOuter
    var outerDimension: Int { data.sampleCount }

    init(_ ridge: RidgeRegression, _ damage: Damage) {
        data = DamagedLosses(base: ridge.data, damage: damage)
        regularizer = DamagedRegularizer(damage: damage)
        outer = DamagedOuter(base: ridge.outer, damage: damage)
    }
}

@Suite struct OracleCheckTests {
    /// Every damage is caught by the check it concerns (and the report says which). The
    /// undamaged composition (sigmoid weights on ridge's terms, x of length n; the per-feature
    /// regulariser reads the first p entries of x) passes.
    @Test func detectsDamagedOracles() throws {
        var rng = Xoshiro256StarStar(seed: 21)
        let ridge = try RidgeRegression.synthetic(n: 30, m: 20, d: 5, noise: 0.5, using: &rng)
        let x = (0..<30).map { _ in rng.nextGaussian() }, y = (0..<5).map { _ in rng.nextGaussian() }
        #expect(try checkOracles(ridge, at: Array(x.prefix(5)), y).passed(tolerance: oracleTolerance))
        let expectedFailure: [Damage: String] = [
            .combinationSign: "gradientCombinations", .projectionScale: "gradientProjections", .hvpScale: "hessianVectorProduct",
            .crossScale: "crossProduct", .outerGradientScale: "outerGradientY", .curvature: "regularizerCurvature",
        ]
        for damage in Damage.allCases {
            let report = try checkOracles(DamagedProblem(ridge, damage), at: x, y)
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
