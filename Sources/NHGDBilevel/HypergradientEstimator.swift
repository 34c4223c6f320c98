import NHGDLinearAlgebra
import NHGDSketches

/// Oracle calls spent by a method, so that methods can be compared on equal budgets.
public struct OracleCounts: Sendable, Equatable, Codable {
    /// Per-sample gradient evaluations (one per sample, so a minibatch of b counts b, however
    /// many combination columns one call returns).
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
    /// Where the method has one: a bound on the relative error of `u` against the exact
    /// solution of the system the method approximates (see each method's documentation).
    public var errorBound: Double?

    public init(hypergradient: [Double], solution: [Double], oracleCalls: OracleCounts, errorBound: Double? = nil) {
        self.hypergradient = hypergradient
        self.solution = solution
        self.oracleCalls = oracleCalls
        self.errorBound = errorBound
    }
}

/// What a method's solve returns: `u ≈ H⁻¹∇ᵧf`, optionally the inner point at which the
/// hypergradient is to be assembled (NBO's Newton-corrected `y⁺`), and an error bound.
public struct AdjointSolution: Sendable {
    /// `u ≈ H⁻¹ b` for the system's right-hand side b.
    public var u: [Double]
    /// Assemble `d = ∇ₓf − J u` at this inner point instead of the system's (NBO).
    public var assemblyPoint: [Double]?
    /// See ``HypergradientEstimate/errorBound``.
    public var errorBound: Double?

    public init(u: [Double], assemblyPoint: [Double]? = nil, errorBound: Double? = nil) {
        self.u = u
        self.assemblyPoint = assemblyPoint
        self.errorBound = errorBound
    }
}

/// The drop-in protocol every hypergradient method implements: **only the solve** of
/// `H u = ∇ᵧf` (ALGORITHMS.md §1, §6). The frame around it — validating `(x, y)`, the outer
/// gradients, the cross product, `d = ∇ₓf − J u`, the oracle counts, converting errors of the
/// numerical layers — is ``estimate(problem:x:y:using:)``, written once. As in jaxopt, where a
/// solver is `solve(matvec, b)` and the hypergradient is a few lines around it:
///
/// ```swift
/// struct MySolver<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
///     var name: String { "mine" }
///     mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar)
///         throws -> AdjointSolution {
///         let cg = try system.conjugateGradients(iterations: 5)      // counts its HVPs
///         return AdjointSolution(u: cg.solution)
///     }
/// }
/// ```
///
/// An estimator may also ask the inner loop for curvature columns (``columnRequest``; NHGD
/// folds them into its Fisher sketch through ``observe(_:columns:forgetting:)``, on a second
/// worker under ``BilevelOptimizer``'s pipelined mode). Swapping methods is a one-line change.
public protocol HypergradientEstimator<Problem>: SendableMetatype {
    associatedtype Problem: BilevelProblem

    /// A short name for tables and traces ("nhgd", "cg", …).
    var name: String { get }

    /// The curvature columns this estimator wants from the inner SGD steps (`nil`: none, the
    /// default). The optimiser computes them in the same combination call as the SGD
    /// direction and hands them to ``observe(_:columns:forgetting:)``.
    var columnRequest: CurvatureColumnRequest? { get }

    /// Folds one block of requested columns (`block[:, columns]`, scaled as the request's
    /// compression specifies) in, with forgetting factor β.
    mutating func observe(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws

    /// `u ≈ H⁻¹ b` for the system at `(x, y)` with `b = ∇ᵧf(x, y)`. Oracle calls made through
    /// the system are counted; `rng` drives any minibatch sampling.
    mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution

    /// Forgets warm starts and accumulated state.
    mutating func reset()

    /// Whether ``observe(_:columns:forgetting:)`` must run on the optimiser's own thread, in
    /// order with the inner steps: true when it makes collective calls (a sketch sharded across
    /// ranks), which must reach every rank in the same order as the inner loop's. The optimiser
    /// then does not pipeline this estimator, whatever its configuration says. False by default.
    var observesOnCallerThread: Bool { get }
}

extension HypergradientEstimator {
    public var columnRequest: CurvatureColumnRequest? { nil }
    public var observesOnCallerThread: Bool { false }
    public mutating func observe(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws {}
    public mutating func reset() {}

    /// The hypergradient at `(x, y)`: validates the point (the one door for user input),
    /// forms the system `H u = ∇ᵧf`, lets the method ``solve(_:using:)`` it, and assembles
    /// `d = ∇ₓf − J u` (at the solution's assembly point, when it has one). Errors of the
    /// linear-algebra and sketch layers arrive as ``BilevelError/linearAlgebra(_:)``.
    /// - Throws: ``BilevelError`` for a bad point, a failed solve, or a non-finite result.
    public mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate {
        try validatePoint(problem, x: x, y: y, name)
        do {
            var system = AdjointSystem(problem: problem, x: x, y: y)
            let solution = try solve(&system, using: &rng)
            return try system.assemble(solution)
        } catch let error as LinearAlgebraError {
            throw BilevelError.linearAlgebra(error)
        }
    }
}

/// Validates `(x, y)` against the problem's dimensions and finiteness.
func validatePoint<P: BilevelProblem>(_ problem: P, x: [Double], y: [Double], _ method: String) throws {
    try requireCount(x, problem.outerDimension, method, "x")
    try requireCount(y, problem.innerDimension, method, "y")
    try requireAllFinite(x, method, "x")
    try requireAllFinite(y, method, "y")
}

/// Checks a method hyperparameter.
func requireHyperparameter(_ ok: Bool, _ name: String, _ value: Any, _ requirement: String) throws {
    if !ok { throw BilevelError.invalidHyperparameter(name: name, value: "\(value)", requirement: requirement) }
}

/// The settings every iterative solve shares, checked once: an iteration count of at least
/// `minimum`, a relative tolerance (finite, ≥ 0) or a step size (finite, > 0, and ≤ 1/L for the
/// methods that need it), and a minibatch (≥ 1, or `nil` for full batch).
/// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)`` naming the setting.
func validatedSolverSettings(
    _ count: (name: String, value: Int, minimum: Int), tolerance: Double? = nil, stepSize: Double? = nil,
    batchSize: Int?
) throws -> (count: Int, real: Double, batchSize: Int?) {
    try requireHyperparameter(count.value >= count.minimum, count.name, count.value, "must be at least \(count.minimum)")
    if let tolerance {
        try requireHyperparameter(tolerance >= 0 && tolerance.isFinite, "tolerance", tolerance, "must be finite and ≥ 0")
    }
    if let stepSize {
        try requireHyperparameter(stepSize > 0 && stepSize.isFinite, "stepSize", stepSize, "must be finite and > 0 (and ≤ 1/L)")
    }
    if let b = batchSize { try requireHyperparameter(b >= 1, "batchSize", b, "must be at least 1") }
    return (count.value, tolerance ?? stepSize ?? 0, batchSize)
}
