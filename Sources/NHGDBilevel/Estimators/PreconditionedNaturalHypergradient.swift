import NHGDLinearAlgebra
import NHGDSketches

/// NHGD with a few warm-started, sketch-preconditioned conjugate-gradient steps on the true
/// Hessian (`nhgd-pcg`; ALGORITHMS.md §8, "How good is a sketched Fisher as H⁻¹"):
///
/// ```
/// M⁻¹ = (F̂ + ∇²R + λI)⁻¹                       (NHGD's sketch, Woodbury, factored once)
/// u₀  = previous u, or M⁻¹∇ᵧf on the first estimate
/// u   = K steps of PCG on H_B u = ∇ᵧf from u₀, preconditioned by M⁻¹
/// ```
///
/// The Fisher sketch is a biased surrogate of H when the model is misspecified (corrupted
/// labels), but an excellent preconditioner, and the solution moves little between outer
/// iterations, so one or two warm-started steps with Hessian-vector products remove the bias
/// (measured on hyper-cleaning: cosine with the exact hypergradient 0.85 → 0.9995 after one
/// step from the previous u). Every solve through M⁻¹ reuses the one factorisation of the
/// estimate. The columns and the sketch are NHGD's (``natural``).
///
/// Error bound: with full-batch Hessians, the a-posteriori bound of the residual
/// (``AdjointSystem/residualErrorBound(u:residualNorm:)``); with minibatch Hessians, none.
/// - Complexity: per estimate, K Hessian-vector products (one more for the warm start), K + 1
///   applications of M⁻¹ (two passes over the sketch each) and NHGD's factorisation.
public struct PreconditionedNaturalHypergradient<Problem: SecondOrderBilevelProblem, Sketch: FisherSketch>:
    HypergradientEstimator {
    public var name: String { "nhgd-pcg" }
    /// The sketch and the curvature columns it asks for.
    public internal(set) var natural: NaturalHypergradient<Problem, Sketch>
    /// K, PCG steps per estimate.
    public let steps: Int
    /// Minibatch of the Hessian-vector products (`nil`: all training data).
    public let batchSize: Int?
    var previousSolution: [Double]?

    /// - Parameters:
    ///   - natural: NHGD's sketch, damping and column request.
    ///   - steps: K ≥ 1.
    ///   - batchSize: ≥ 1, or `nil` for full-batch Hessian-vector products.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(_ natural: NaturalHypergradient<Problem, Sketch>, steps: Int = 1, batchSize: Int? = nil) throws {
        (self.steps, _, self.batchSize) = try validatedSolverSettings(("steps", steps, 1), batchSize: batchSize)
        self.natural = natural
    }

    public var columnRequest: CurvatureColumnRequest? { natural.columnRequest }

    public mutating func observe(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws {
        try natural.observe(block, columns: columns, forgetting: beta)
    }

    public mutating func reset() {
        natural.reset()
        previousSolution = nil
    }

    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        guard natural.sketch.dimension == system.dimension else {
            throw BilevelError.dimensionMismatch(operation: name, expected: "a sketch of dimension \(system.dimension)",
                                                 actual: "dimension \(natural.sketch.dimension)")
        }
        let preconditioner = try natural.inverse(system.regularizerCurvature)
        let b = try system.rightHandSide()
        let start = try previousSolution.flatMap { $0.count == system.dimension ? $0 : nil } ?? preconditioner.solve(b)
        let samples = system.minibatch(batchSize, using: &rng)
        let pcg = try system.conjugateGradients(b, start: start, iterations: steps, samples: samples,
                                                preconditioner: preconditioner.inverseOperator)
        previousSolution = pcg.solution
        let bound = samples == nil ? system.residualErrorBound(u: pcg.solution, residualNorm: pcg.residualNorm) : nil
        return AdjointSolution(u: pcg.solution, errorBound: bound)
    }
}
