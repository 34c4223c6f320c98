internal import CLAPACK

/// Thin QR factorisation `A = Q R` (LAPACK `dgeqrf` then `dorgqr`) of an m×n matrix with
/// m ≥ n: `q` is m×n with orthonormal columns, `r` is n×n upper triangular.
public struct QRFactorization: Sendable {
    public let q: Matrix
    public let r: Matrix

    /// - Complexity: about 4mn² flops (factor plus forming Q).
    public init(_ a: Matrix) throws {
        let m = a.rows, n = a.columns
        guard m >= n else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "dgeqrf", expected: "rows ≥ columns", actual: "\(m)×\(n)")
        }
        if let bad = a.firstNonFiniteIndex {
            throw LinearAlgebraError.nonFinite(operation: "dgeqrf", argument: "matrix", index: bad)
        }
        var work = a
        var r = Matrix(rows: n, columns: n)
        if n > 0 {
            var tau = [Double](repeating: 0, count: n)
            let mi = try lapackInt(m, "dgeqrf"), ni = try lapackInt(n, "dgeqrf")
            let info = work.storage.withUnsafeMutableBufferPointer { ap in
                tau.withUnsafeMutableBufferPointer { tp in
                    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, mi, ni, ap.baseAddress, mi, tp.baseAddress)
                }
            }
            try checkInfo(info, routine: "dgeqrf") { _ in .illegalArgument(routine: "dgeqrf", position: 0) }
            for j in 0..<n { for i in 0...j { r[i, j] = work[i, j] } }
            let info2 = work.storage.withUnsafeMutableBufferPointer { ap in
                tau.withUnsafeBufferPointer { tp in
                    LAPACKE_dorgqr(LAPACK_COL_MAJOR, mi, ni, ni, ap.baseAddress, mi, tp.baseAddress)
                }
            }
            try checkInfo(info2, routine: "dorgqr") { _ in .illegalArgument(routine: "dorgqr", position: 0) }
        }
        q = work
        self.r = r
    }
}
