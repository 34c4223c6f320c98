import NHGDLinearAlgebra

/// A streaming estimate of the empirical Fisher `F = (1/n) Σ ωᵢ gᵢ gᵢᵀ` of per-sample
/// gradients, kept in a form whose inverse Woodbury can apply (ALGORITHMS.md §3, §5).
///
/// The state is explicit (optax-style): a sketch is a value, and ``ingest(_:columns:forgetting:)``
/// folds in one block of columns `aⱼ` (p-vectors, already scaled) with the forgetting rule
///
/// ```
/// F ← (1 − β) F + Σⱼ aⱼ aⱼᵀ
/// ```
///
/// (β = 1 empties the sketch first). The columns are what the inner loop's combination oracle
/// returns (ALGORITHMS.md §8a): `G C` for the minibatch's per-sample gradients G and the
/// coefficients C of an ``IngestCompression``, which scale them so that
/// `E[Σⱼ aⱼaⱼᵀ] = β·(1/b) Σᵢ ωᵢ gᵢgᵢᵀ`. For a block of per-sample gradients use
/// ``ingest(_:weights:forgetting:)`` (or its compressing variant), which forms those columns
/// itself. A call that throws leaves the sketch bit-for-bit unchanged.
public protocol FisherSketch: Sendable {
    /// p, the length of each column.
    var dimension: Int { get }

    /// Number of columns ingested since creation or the last ``reset()``.
    var ingestedCount: Int { get }

    /// Folds the columns `columns` of `block` (p×·, column-major, already scaled) into the
    /// estimate: `F ← (1 − β) F + Σ_{j ∈ columns} aⱼ aⱼᵀ`. An empty range only forgets.
    /// - Throws: `dimensionMismatch` (rows ≠ p, a range outside the block), `nonFinite`, or
    ///   `invalidArgument` (β outside (0, 1]); the sketch is unchanged on error.
    mutating func ingest(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws

    /// Forgets everything (back to the state after `init`).
    mutating func reset()

    /// The estimate as `diag(d) + U Uᵀ`, with `extraDiagonal` (for example the regulariser's
    /// curvature `∇²_yy R`, length p) added to `d`: a copy of the sketch's state, for dense
    /// references and tests.
    func lowRankPlusDiagonal(adding extraDiagonal: [Double]?) throws -> LowRankPlusDiagonal

    /// `(F̂ + E + λI)⁻¹` for a diagonal E (the regulariser's curvature) as a Woodbury
    /// factorisation, reusing whatever the sketch keeps between solves (Frequent Directions
    /// reads its buffer in place and keeps its capacitance; the default factors a copy,
    /// ``lowRankPlusDiagonal(adding:)``).
    /// - Throws: `dimensionMismatch`, `nonFinite` for a bad E; `invalidArgument` for a bad λ or
    ///   a diagonal that is not positive.
    mutating func inverse(adding extra: Diagonal, damping: Double) throws -> WoodburyFactorization

    /// A bound on the spectral-norm error of the estimate against the exact (decayed)
    /// empirical Fisher of everything ingested: `‖F − F̂‖₂ ≤ spectralErrorBound`. Zero for
    /// exact methods; `Δ` for plain Frequent Directions, `Δ/2` with scalar compensation.
    var spectralErrorBound: Double { get }

    /// Bytes held by the sketch's state and scratch.
    var byteCount: Int { get }
}

extension FisherSketch {
    public mutating func inverse(adding extra: Diagonal, damping: Double) throws -> WoodburyFactorization {
        guard extra.dimension == dimension else {
            throw LinearAlgebraError.dimensionMismatch(operation: "\(Self.self).inverse",
                                                       expected: "a diagonal of length \(dimension)",
                                                       actual: "length \(extra.dimension)")
        }
        return try lowRankPlusDiagonal(adding: extra.entries).factorized(damping: damping)
    }

    /// Folds every column of `block` in (see ``ingest(_:columns:forgetting:)``).
    public mutating func ingest(columns block: Matrix, forgetting beta: Double) throws {
        try ingest(block, columns: 0..<block.columns, forgetting: beta)
    }

    /// Folds a block of per-sample gradients in:
    /// `F ← (1 − β) F + β · (1/b) Σᵢ wᵢ gᵢ gᵢᵀ`, every gradient a column
    /// (``IngestCompression/none``).
    /// - Parameters:
    ///   - gradients: p×b, one gradient per column.
    ///   - weights: wᵢ ≥ 0 (length b), or `nil` for all ones.
    ///   - forgetting: β ∈ (0, 1].
    /// - Throws: as ``IngestCompression/coefficients(weights:blockSize:forgetting:using:)``
    ///   and ``ingest(_:columns:forgetting:)``; the sketch is unchanged on error.
    /// - Complexity: a scaled p×b copy, then the ingest.
    public mutating func ingest(_ gradients: Matrix, weights: [Double]?, forgetting beta: Double) throws {
        var unused = Xoshiro256StarStar(seed: 0)
        try ingest(gradients, weights: weights, forgetting: beta, compression: .none, using: &unused)
    }

    /// Folds a block of per-sample gradients in after compressing it to the columns
    /// `G C` of `compression` (drawn from `rng`): unbiased for
    /// `β · (1/b) Σᵢ wᵢ gᵢ gᵢᵀ`. The whole block is validated first, so whether it is accepted
    /// never depends on the draw.
    /// - Complexity: one `gemm` (2pbs flops) for `.gaussian`, a scaled copy otherwise.
    public mutating func ingest(
        _ gradients: Matrix, weights: [Double]?, forgetting beta: Double, compression: IngestCompression,
        using rng: inout some RandomNumberGenerator
    ) throws {
        let operation = "\(Self.self).ingest"
        try requireBlock(gradients, rows: dimension, operation, "gradients")
        let coefficients = try compression.coefficients(
            weights: weights, blockSize: gradients.columns, forgetting: beta, using: &rng)
        var columns = Matrix(rows: dimension, columns: coefficients.columns)
        try combine(gradients, coefficients, into: &columns)
        try ingest(columns, columns: 0..<columns.columns, forgetting: beta)
    }
}

/// `out = G C` for a p×b block and b×s coefficients: a scaled copy when C is a scaled selection
/// (one nonzero per column), one `gemm` otherwise.
func combine(_ gradients: Matrix, _ coefficients: Matrix, into out: inout Matrix) throws {
    let b = coefficients.rows, s = coefficients.columns, p = gradients.rows
    var selection = [(source: Int, scale: Double)]()
    selection.reserveCapacity(s)
    for j in 0..<s {
        var found: (Int, Double)?
        var single = true
        for i in 0..<b where coefficients[i, j] != 0 {
            if found != nil { single = false; break }
            found = (i, coefficients[i, j])
        }
        guard single else { try BLAS.gemm(.none, .none, gradients, coefficients, &out); return }
        selection.append(found ?? (0, 0))
    }
    gradients.storage.withUnsafeBufferPointer { src in
        out.storage.withUnsafeMutableBufferPointer { dst in
            for (j, (source, scale)) in selection.enumerated() {
                let from = src.baseAddress! + source * p, to = dst.baseAddress! + j * p
                for i in 0..<p { to[i] = scale * from[i] }
            }
        }
    }
}

/// A sketch whose summaries of two streams combine into a summary of their concatenation
/// (Frequent Directions is mergeable: stack, shrink once, the shrunk masses add).
public protocol MergeableFisherSketch: FisherSketch {
    /// Replaces `self` with a sketch of both streams. `other` must have the same dimension
    /// and configuration.
    mutating func merge(_ other: Self) throws
}
