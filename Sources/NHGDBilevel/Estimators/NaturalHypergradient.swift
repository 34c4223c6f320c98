import NHGDLinearAlgebra
import NHGDSketches

/// How NHGD's Fisher estimate forgets old gradients: `F ← (1 − β) F + β · mean(w g gᵀ)`.
public enum ForgettingSchedule: Sendable, Equatable {
    /// A constant β ∈ (0, 1]: an exponential moving average with memory ≈ 1/β blocks.
    case constant(Double)
    /// β = 1/t on the t-th block since the last reset: the running mean of everything seen.
    case runningMean

    func factor(forBlock t: Int) -> Double {
        switch self {
        case .constant(let beta): return t == 1 ? 1 : beta
        case .runningMean: return 1 / Double(t)
        }
    }

    func validate() throws {
        if case .constant(let beta) = self {
            try requireHyperparameter(beta > 0 && beta <= 1, "forgetting", beta, "must be in (0, 1]")
        }
    }
}

/// Natural Hypergradient Descent (Kong, Chen, Zhang, Mou 2026; ALGORITHMS.md §3).
///
/// The per-sample gradients the inner SGD already computes are folded into a streaming
/// empirical-Fisher sketch `F̂` as the inner loop runs (``observe(gradients:weights:)``, on a
/// second worker under ``BilevelOptimizer``'s pipelined mode). The estimate then costs one
/// Woodbury solve on the low-rank-plus-diagonal operator
///
/// ```
/// Ĥ = F̂ + ∇²ᵧᵧR + λ I,    u = Ĥ⁻¹ ∇ᵧf,    ∇Φ ≈ ∇ₓf − J u,
/// ```
///
/// and one cross product: no Hessian-vector products at all.
///
/// **Certificate** (§5): with `A = F + ∇²R + λI` for the un-sketched Fisher `F`,
/// `‖Â⁻¹v − A⁻¹v‖ / ‖A⁻¹v‖ ≤ ‖A − Â‖/λ_min(Â) ≤ ε_sketch / (λ + min diag ∇²R)`, where
/// `ε_sketch` is the sketch's ``FisherSketch/spectralErrorBound``. It bounds what sketching
/// cost relative to the exact (dense) Fisher answer, not the Fisher-vs-Hessian gap.
/// - Complexity: per estimate, p·k² + k³/3 flops to factor and two passes over the p×k factor.
public struct NaturalHypergradient<Problem: BilevelProblem, Sketch: FisherSketch>: HypergradientEstimator {
    public var name: String { "nhgd" }
    /// The streaming Fisher estimate (explicit state: inspect or replace it freely).
    public private(set) var sketch: Sketch
    /// λ ≥ 0, added to the diagonal.
    public var damping: Double
    public var forgetting: ForgettingSchedule
    /// Blocks ingested since the last reset (drives the running-mean schedule).
    public private(set) var blocksObserved = 0
    /// Reset the sketch at the start of every outer iteration (so F̂ only sees gradients at
    /// the current x); `false` keeps the decayed history across outer iterations.
    public var resetEachOuterIteration: Bool
    private var sketchToReset = false

    public init(sketch: Sketch, damping: Double = 1e-3, forgetting: ForgettingSchedule = .constant(0.1),
                resetEachOuterIteration: Bool = false) throws {
        try requireHyperparameter(damping >= 0 && damping.isFinite, "damping", damping, "must be finite and ≥ 0")
        try forgetting.validate()
        self.sketch = sketch
        self.damping = damping
        self.forgetting = forgetting
        self.resetEachOuterIteration = resetEachOuterIteration
    }

    public var observesInnerGradients: Bool { true }

    public mutating func observe(gradients: Matrix, weights: [Double]) throws {
        if sketchToReset {
            sketch.reset()
            blocksObserved = 0
            sketchToReset = false
        }
        let beta = forgetting.factor(forBlock: blocksObserved + 1)
        try sketch.ingest(gradients, weights: weights, forgetting: beta)
        blocksObserved += 1
    }

    public mutating func reset() {
        sketch.reset()
        blocksObserved = 0
        sketchToReset = false
    }

    public mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate {
        let start = monotonicSeconds()
        try validatePoint(problem, x: x, y: y, "NaturalHypergradient")
        guard sketch.dimension == problem.innerDimension else {
            throw BilevelError.dimensionMismatch(operation: "NaturalHypergradient", expected: "a sketch of dimension \(problem.innerDimension)",
                                                 actual: "dimension \(sketch.dimension)")
        }
        var counts = OracleCounts()
        let (fx, fy) = try problem.outerGradients(x: x, y: y)
        counts.outerGradients += 1
        let curvature = try problem.regularizerCurvature(x: x, y: y)
        let u: [Double]
        do {
            var op = try sketch.lowRankPlusDiagonal(adding: curvature)
            u = try op.solve(fy, damping: damping)
        } catch let error as LinearAlgebraError {
            throw BilevelError.linearAlgebra(error)
        }
        let d = try assembleHypergradient(problem, x: x, y: y, outerGradientX: fx, u: u, counts: &counts)
        if resetEachOuterIteration { sketchToReset = true }
        let floor = damping + (curvature.min() ?? 0)
        let bound = floor > 0 ? sketch.spectralErrorBound / floor : nil
        return HypergradientEstimate(hypergradient: d, solution: u, oracleCalls: counts,
                                     seconds: monotonicSeconds() - start, errorBound: bound)
    }
}
