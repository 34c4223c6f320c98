import NHGDLinearAlgebra
import NHGDSketches

/// Natural Hypergradient Descent (Kong, Chen, Zhang, Mou 2026; ALGORITHMS.md §3).
///
/// The inner SGD already computes the minibatch's gradients; the same combination call returns
/// the curvature columns this estimator asks for (``columnRequest``: compressed or sampled
/// combinations of the per-sample gradients, every `interval`-th step, at the observed or at
/// sampled labels), and ``observe(_:columns:forgetting:)`` folds them into a streaming Fisher
/// sketch `F̂` (on a second worker under ``BilevelOptimizer``'s pipelined mode). The solve is
/// then one Woodbury solve on the low-rank-plus-diagonal operator
///
/// ```
/// Ĥ = F̂ + ∇²ᵧᵧR + λ I,    u = Ĥ⁻¹ ∇ᵧf,    ∇Φ ≈ ∇ₓf − J u,
/// ```
///
/// and no Hessian-vector products at all.
///
/// **Certificate** (§5): with `A = F + ∇²R + λI` for the un-sketched Fisher `F`,
/// `‖Â⁻¹v − A⁻¹v‖ / ‖A⁻¹v‖ ≤ ‖A − Â‖/λ_min(Â) ≤ ε_sketch / (λ + min diag ∇²R)`, where
/// `ε_sketch` is the sketch's ``FisherSketch/spectralErrorBound``. It bounds what sketching
/// cost relative to the exact (dense) Fisher answer, not the Fisher-vs-Hessian gap.
/// - Complexity: per estimate, an m×m Cholesky factor of the capacitance the sketch keeps (for a
///   uniform diagonal; a p·m² build otherwise, when the diagonal changed) and two passes over
///   the p×m buffer, read in place.
public struct NaturalHypergradient<Problem: BilevelProblem, Sketch: FisherSketch>: HypergradientEstimator {
    public var name: String { "nhgd" }
    /// The streaming Fisher estimate (explicit state: inspect or replace it freely).
    public internal(set) var sketch: Sketch
    /// λ ≥ 0, added to the diagonal.
    public let damping: Double
    /// The columns asked of the inner loop.
    public let columns: CurvatureColumnRequest

    /// - Parameters:
    ///   - sketch: an empty (or warm) sketch of dimension p.
    ///   - damping: λ ≥ 0, finite.
    ///   - columns: what the inner loop computes for the sketch (by default every gradient of
    ///     every step, empirical labels, β = 0.1).
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(sketch: Sketch, damping: Double = 1e-3,
                columns: CurvatureColumnRequest = CurvatureColumnRequest(compression: .none)) throws {
        try requireHyperparameter(damping >= 0 && damping.isFinite, "damping", damping, "must be finite and ≥ 0")
        try columns.validate()
        self.sketch = sketch
        self.damping = damping
        self.columns = columns
    }

    public var columnRequest: CurvatureColumnRequest? { columns }

    public mutating func observe(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws {
        try sketch.ingest(block, columns: columns, forgetting: beta)
    }

    public mutating func reset() { sketch.reset() }

    /// `ε_sketch / (λ + min diag ∇²R)`, or `nil` when that floor is 0.
    func certificate(_ curvature: Diagonal) -> Double? {
        let floor = damping + curvature.minimum
        return floor > 0 ? sketch.spectralErrorBound / floor : nil
    }

    /// `(F̂ + E + λI)⁻¹` for the regulariser's curvature E at the system's point (the
    /// preconditioner of ``PreconditionedNaturalHypergradient``).
    mutating func inverse(_ curvature: Diagonal) throws -> WoodburyFactorization {
        try sketch.inverse(adding: curvature, damping: damping)
    }

    /// - Throws: ``BilevelError/dimensionMismatch(operation:expected:actual:)`` for a sketch
    ///   of another dimension than p.
    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        guard sketch.dimension == system.dimension else {
            throw BilevelError.dimensionMismatch(operation: "NaturalHypergradient",
                                                 expected: "a sketch of dimension \(system.dimension)",
                                                 actual: "dimension \(sketch.dimension)")
        }
        let curvature = system.regularizerCurvature
        let u = try inverse(curvature).solve(system.rightHandSide())
        return AdjointSolution(u: u, errorBound: certificate(curvature))
    }
}
