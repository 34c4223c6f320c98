import NHGDLinearAlgebra

/// A streaming estimate of the empirical Fisher `F = (1/n) Σ ωᵢ gᵢ gᵢᵀ` of per-sample
/// gradients, kept in a form whose inverse Woodbury can apply (ALGORITHMS.md §3, §5).
///
/// The state is explicit (optax-style): a sketch is a value; `ingest` folds in one block of
/// gradients with the forgetting rule
///
/// ```
/// F ← (1 − β) F + β · (1/b) Σ_{i ∈ block} wᵢ gᵢ gᵢᵀ
/// ```
///
/// (β = 1 on the first block; β = 1/t on block t gives the running mean). A call that throws
/// leaves the sketch bit-for-bit unchanged.
public protocol FisherSketch: Sendable {
    /// p, the length of each gradient.
    var dimension: Int { get }

    /// Number of gradients (columns) ingested since creation or the last `reset`.
    var ingestedCount: Int { get }

    /// Folds the columns of `gradients` (p×b, column-major) into the estimate.
    /// - Parameters:
    ///   - weights: per-sample weights wᵢ ≥ 0 (length b), or `nil` for all ones.
    ///   - forgetting: β ∈ (0, 1]; the old estimate is scaled by (1 − β).
    /// - Throws: `dimensionMismatch`, `nonFinite`, or `invalidArgument` (negative weight,
    ///   β outside (0, 1]); the sketch is unchanged on error.
    mutating func ingest(_ gradients: Matrix, weights: [Double]?, forgetting: Double) throws

    /// Forgets everything (back to the state after `init`).
    mutating func reset()

    /// The estimate as `diag(d) + U Uᵀ`, with `extraDiagonal` (for example the regulariser's
    /// curvature `∇²_yy R`, length p) added to `d`. Solves then go through Woodbury.
    func lowRankPlusDiagonal(adding extraDiagonal: [Double]?) throws -> LowRankPlusDiagonal

    /// A bound on the spectral-norm error of the estimate against the exact (decayed)
    /// empirical Fisher of everything ingested: `‖F − F̂‖₂ ≤ spectralErrorBound`. Zero for
    /// exact methods; `Δ` for plain Frequent Directions, `Δ/2` with scalar compensation.
    var spectralErrorBound: Double { get }

    /// Bytes held by the sketch's state and scratch.
    var byteCount: Int { get }
}

/// A sketch whose summaries of two streams combine into a summary of their concatenation
/// (Frequent Directions is mergeable: stack, shrink once, the shrunk masses add).
public protocol MergeableFisherSketch: FisherSketch {
    /// Replaces `self` with a sketch of both streams. `other` must have the same dimension
    /// and configuration.
    mutating func merge(_ other: Self) throws
}
