import NHGDLinearAlgebra

/// The exact decayed empirical Fisher as a dense p×p matrix, the reference the sketches are
/// measured against (ALGORITHMS.md §5): `F ← (1 − β) F + A_blk A_blkᵀ` by one `syrk` over the
/// ingested columns `A_blk` (for per-sample gradients `G diag(√(β wᵢ / b))`).
///
/// Memory is p²·8 bytes, so it refuses dimensions whose matrix would exceed `maxBytes`
/// (p up to a few thousand).
public struct DenseFisher: FisherSketch, Equatable {
    public let dimension: Int
    /// F, p×p symmetric.
    public internal(set) var matrix: Matrix
    public internal(set) var ingestedCount = 0

    /// - Parameter maxBytes: the most memory F may take (default 512 MiB, p ≤ 8192).
    /// - Throws: `invalidArgument` for p < 1; `tooLargeToMaterialize(dimension:bytesNeeded:bytesAllowed:)`
    ///   naming the bytes a p×p matrix needs when that exceeds `maxBytes`.
    public init(dimension: Int, maxBytes: Int = 512 << 20) throws {
        try requirePositive(dimension, "dimension", "DenseFisher.init")
        let (bytes, overflow) = dimension.multipliedReportingOverflow(by: dimension * 8)
        guard !overflow, bytes <= maxBytes else {
            throw LinearAlgebraError.tooLargeToMaterialize(
                dimension: dimension, bytesNeeded: overflow ? Int.max : bytes, bytesAllowed: maxBytes)
        }
        self.dimension = dimension
        matrix = Matrix(rows: dimension, columns: dimension)
    }

    /// - Complexity: p²·s flops (`syrk`) plus O(p²) to mirror the triangle.
    public mutating func ingest(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws {
        try validateIngest(block, columns: columns, forgetting: beta, dimension: dimension,
                           operation: "DenseFisher.ingest")
        try BLAS.syrk(.none, block, columns: columns, beta: 1 - beta, &matrix)
        ingestedCount += columns.count
    }

    public mutating func reset() {
        BLAS.scale(&matrix.storage, by: 0)
        ingestedCount = 0
    }

    /// F as `diag(extra) + U Uᵀ` with `U = Q₊ diag(√λ₊)` from the eigendecomposition
    /// `F = Q diag(λ) Qᵀ`, keeping λ > 0 (F ⪰ 0: the eigenvalues dropped are rounding, of size
    /// ≲ p·ε·‖F‖₂).
    /// - Complexity: ≈ 9p³ flops (`dsyevd`).
    public func lowRankPlusDiagonal(adding extraDiagonal: [Double]?) throws -> LowRankPlusDiagonal {
        let d = try validatedExtraDiagonal(extraDiagonal, dimension: dimension,
                                           operation: "DenseFisher.lowRankPlusDiagonal")
        let eigen = try SymmetricEigendecomposition(matrix)
        let p = dimension
        let positive = eigen.values.firstIndex { $0 > 0 } ?? p
        let rank = p - positive
        var u = Matrix(rows: p, columns: rank)
        for j in 0..<rank {
            let s = eigen.values[positive + j].squareRoot()
            for i in 0..<p { u[i, j] = s * eigen.vectors[i, positive + j] }
        }
        return try LowRankPlusDiagonal(diagonal: d, factor: u)
    }

    /// 0: F is exact (to rounding).
    public var spectralErrorBound: Double { 0 }

    public var byteCount: Int { matrix.byteCount }
}
