internal import CLAPACK

/// Eigen-decomposition `A = Q diag(λ) Qᵀ` of a symmetric matrix by divide and conquer
/// (LAPACK `dsyevd`). Eigenvalues are in ascending order; column `i` of `vectors` belongs to
/// `values[i]`. Only the lower triangle of the input is read.
public struct SymmetricEigendecomposition: Sendable {
    /// Eigenvalues, ascending.
    public let values: [Double]
    /// Orthonormal eigenvectors, one per column.
    public let vectors: Matrix

    /// - Complexity: about 9n³ flops with vectors (LAPACK Working Note 41 counts).
    public init(_ a: Matrix) throws {
        try requireSquareFinite(a, "dsyevd")
        var q = a
        var w = [Double](repeating: 0, count: a.rows)
        let n = try lapackInt(a.rows, "dsyevd")
        if n > 0 {
            let info = q.storage.withUnsafeMutableBufferPointer { qp in
                w.withUnsafeMutableBufferPointer { wp in
                    LAPACKE_dsyevd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "L")),
                                   n, qp.baseAddress, n, wp.baseAddress)
                }
            }
            try checkInfo(info, routine: "dsyevd") { .noConvergence(routine: "dsyevd", info: $0) }
        }
        values = w
        vectors = q
    }

    /// Wraps a decomposition computed elsewhere (rank 0's, broadcast; see `RootComputation.swift`).
    init(values: [Double], vectors: Matrix) {
        self.values = values
        self.vectors = vectors
    }
}
