import Foundation
import NHGDLinearAlgebra

/// Oracle calls spent by a method, so that methods can be compared on equal budgets.
public struct OracleCounts: Sendable, Equatable, Codable {
    /// Per-sample gradient evaluations (one per sample, so a minibatch of b counts b).
    public var sampleGradients = 0
    /// Hessian-vector products (minibatch or full batch: each call counts one).
    public var hessianVectorProducts = 0
    /// Cross products `J u`.
    public var crossProducts = 0
    /// Evaluations of the outer gradients `(∇ₓf, ∇ᵧf)`.
    public var outerGradients = 0
    /// Per-sample inner loss evaluations, as spent by line searches (one full-data value of
    /// `g` counts n, like ``sampleGradients``).
    public var sampleLosses = 0

    public init(sampleGradients: Int = 0, hessianVectorProducts: Int = 0, crossProducts: Int = 0,
                outerGradients: Int = 0, sampleLosses: Int = 0) {
        self.sampleGradients = sampleGradients
        self.hessianVectorProducts = hessianVectorProducts
        self.crossProducts = crossProducts
        self.outerGradients = outerGradients
        self.sampleLosses = sampleLosses
    }

    /// All oracle calls of every kind, for a single budget figure.
    public var total: Int {
        sampleGradients + hessianVectorProducts + crossProducts + outerGradients + sampleLosses
    }

    public static func + (a: OracleCounts, b: OracleCounts) -> OracleCounts {
        OracleCounts(sampleGradients: a.sampleGradients + b.sampleGradients,
                     hessianVectorProducts: a.hessianVectorProducts + b.hessianVectorProducts,
                     crossProducts: a.crossProducts + b.crossProducts,
                     outerGradients: a.outerGradients + b.outerGradients,
                     sampleLosses: a.sampleLosses + b.sampleLosses)
    }

    public static func += (a: inout OracleCounts, b: OracleCounts) { a = a + b }
}

/// One hypergradient estimate `∇Φ(x) ≈ ∇ₓf − J u` with `u ≈ H⁻¹∇ᵧf` (ALGORITHMS.md §1).
public struct HypergradientEstimate: Sendable {
    /// The estimated hypergradient (length q).
    public var hypergradient: [Double]
    /// The approximate solution `u` of `H u = ∇ᵧf` (length p).
    public var solution: [Double]
    /// Oracle calls this estimate spent.
    public var oracleCalls: OracleCounts
    /// Wall time of the estimate, in seconds.
    public var seconds: Double
    /// Where the method has one: a bound on the relative error of `u` against the exact
    /// solution of the system the method approximates (see each method's documentation).
    public var errorBound: Double?

    public init(hypergradient: [Double], solution: [Double], oracleCalls: OracleCounts, seconds: Double,
                errorBound: Double? = nil) {
        self.hypergradient = hypergradient
        self.solution = solution
        self.oracleCalls = oracleCalls
        self.seconds = seconds
        self.errorBound = errorBound
    }
}

/// The drop-in protocol every hypergradient method implements.
///
/// An estimator may watch the per-sample gradients of every inner step (``observe(gradients:weights:)``,
/// a no-op by default; NHGD folds them into its Fisher sketch) and must produce an estimate at
/// `(x, y)`. Swapping methods is a one-line change:
///
/// ```swift
/// var estimator = NaturalHypergradient<DataHyperCleaning, FrequentDirectionsSketch>(…)
/// // var estimator = ConjugateGradientHypergradient<DataHyperCleaning>(iterations: 10)
/// let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &rng)
/// ```
public protocol HypergradientEstimator<Problem>: SendableMetatype {
    associatedtype Problem: BilevelProblem

    /// A short name for tables and traces ("nhgd", "cg", …).
    var name: String { get }

    /// Whether ``observe(gradients:weights:)`` does anything; the optimiser skips handing over
    /// gradients (and the second worker) when it does not.
    var observesInnerGradients: Bool { get }

    /// Sees the per-sample gradients (p×b) and weights of one inner step.
    mutating func observe(gradients: Matrix, weights: [Double]) throws

    /// The hypergradient at `(x, y)`; `rng` drives any minibatch sampling.
    mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate

    /// Forgets warm starts and accumulated state.
    mutating func reset()
}

extension HypergradientEstimator {
    public var observesInnerGradients: Bool { false }
    public mutating func observe(gradients: Matrix, weights: [Double]) throws {}
    public mutating func reset() {}
}

// MARK: - Shared pieces

/// Validates `(x, y)` against the problem's dimensions and finiteness.
func validatePoint<P: BilevelProblem>(_ problem: P, x: [Double], y: [Double], _ method: String) throws {
    try requireCount(x, problem.outerDimension, method, "x")
    try requireCount(y, problem.innerDimension, method, "y")
    try requireAllFinite(x, method, "x")
    try requireAllFinite(y, method, "y")
}

/// `d = ∇ₓf − J u`, counting the cross product.
func assembleHypergradient<P: BilevelProblem>(
    _ problem: P, x: [Double], y: [Double], outerGradientX: [Double], u: [Double], counts: inout OracleCounts
) throws -> [Double] {
    let ju = try problem.crossProduct(x: x, y: y, u: u)
    counts.crossProducts += 1
    var d = outerGradientX
    BLAS.axpy(-1, ju, &d)
    try requireAllFinite(d, "hypergradient", "the estimate")
    return d
}

/// Draws `count` distinct sample indices from `0..<n` (partial Fisher–Yates on a scratch
/// permutation), or all of them when `count ≥ n`.
func drawMinibatch(_ count: Int, from n: Int, using rng: inout Xoshiro256StarStar) -> [Int] {
    if count >= n { return Array(0..<n) }
    var indices = Array(0..<n)
    for i in 0..<count {
        let j = i + Int(rng.next(upperBound: UInt64(n - i)))
        indices.swapAt(i, j)
    }
    return Array(indices[0..<count])
}

/// Monotonic wall clock in seconds.
@inline(__always) func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
}

/// Checks a method hyperparameter.
func requireHyperparameter(_ ok: Bool, _ name: String, _ value: Any, _ requirement: String) throws {
    if !ok { throw BilevelError.invalidHyperparameter(name: name, value: "\(value)", requirement: requirement) }
}
