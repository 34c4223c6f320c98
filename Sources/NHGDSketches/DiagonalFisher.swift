import NHGDLinearAlgebra

/// The diagonal of the empirical Fisher only, `d = diag(F)`, updated exactly:
/// `d ← (1 − β) d + Σᵢ aᵢ ∘ aᵢ` over the ingested columns `aᵢ` (for per-sample gradients `√(β wᵢ / b)·gᵢ`) (ALGORITHMS.md §5, a comparison
/// point; the diagonal preconditioner of Adam-like methods).
///
/// The error `F − diag(F)` is not observable from the diagonal; `spectralErrorBound` reports
/// the trace `Σ dⱼ`, which bounds it: F ⪰ 0 gives `λ_max(F − D) ≤ λ_max(F) ≤ tr F` and
/// `λ_min(F − D) ≥ −max dⱼ ≥ −tr F`.
public struct DiagonalFisher: FisherSketch, Equatable {
    public let dimension: Int
    /// `diag(F)`.
    public internal(set) var diagonal: [Double]
    public internal(set) var ingestedCount = 0

    /// - Throws: `invalidArgument` for p < 1.
    public init(dimension: Int) throws {
        try requirePositive(dimension, "dimension", "DiagonalFisher.init")
        self.dimension = dimension
        diagonal = [Double](repeating: 0, count: dimension)
    }

    /// - Complexity: O(p·s); no allocation.
    public mutating func ingest(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws {
        try validateIngest(block, columns: columns, forgetting: beta, dimension: dimension,
                           operation: "DiagonalFisher.ingest")
        BLAS.scale(&diagonal, by: 1 - beta)
        addSquaredRowNorms(of: block, columns: columns, weight: 1, to: &diagonal)
        ingestedCount += columns.count
    }

    public mutating func reset() {
        BLAS.scale(&diagonal, by: 0)
        ingestedCount = 0
    }

    /// `diag(d + extraDiagonal)` with no low-rank part.
    public func lowRankPlusDiagonal(adding extraDiagonal: [Double]?) throws -> LowRankPlusDiagonal {
        var d = try validatedExtraDiagonal(extraDiagonal, dimension: dimension,
                                           operation: "DiagonalFisher.lowRankPlusDiagonal")
        BLAS.axpy(1, diagonal, &d)
        return try LowRankPlusDiagonal(diagonal: d)
    }

    /// `tr F = Σ dⱼ`.
    public var spectralErrorBound: Double { diagonal.reduce(0, +) }

    public var byteCount: Int { diagonal.count * 8 }
}
