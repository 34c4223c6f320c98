internal import CLAPACK

/// Thin singular value decomposition `A = U diag(σ) Vᵀ` (LAPACK `dgesdd`, divide and
/// conquer): for an m×n input with r = min(m, n), `u` is m×r, `singularValues` has r
/// descending entries and `vt` is r×n.
public struct SingularValueDecomposition: Sendable {
    public let u: Matrix
    public let singularValues: [Double]
    public let vt: Matrix

    /// - Complexity: O(m n min(m, n)).
    public init(_ a: Matrix) throws {
        if let bad = a.firstNonFiniteIndex {
            throw LinearAlgebraError.nonFinite(operation: "dgesdd", argument: "matrix", index: bad)
        }
        let m = a.rows, n = a.columns, r = min(m, n)
        var work = a
        var s = [Double](repeating: 0, count: r)
        var u = Matrix(rows: m, columns: r)
        var vt = Matrix(rows: r, columns: n)
        if r > 0 {
            let mi = try lapackInt(m, "dgesdd"), ni = try lapackInt(n, "dgesdd"), ri = try lapackInt(r, "dgesdd")
            let info = work.storage.withUnsafeMutableBufferPointer { ap in
                s.withUnsafeMutableBufferPointer { sp in
                    u.storage.withUnsafeMutableBufferPointer { up in
                        vt.storage.withUnsafeMutableBufferPointer { vp in
                            LAPACKE_dgesdd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "S")), mi, ni, ap.baseAddress,
                                           max(1, mi), sp.baseAddress, up.baseAddress, max(1, mi),
                                           vp.baseAddress, max(1, ri))
                        }
                    }
                }
            }
            try checkInfo(info, routine: "dgesdd") { .noConvergence(routine: "dgesdd", info: $0) }
        }
        self.u = u
        self.singularValues = s
        self.vt = vt
    }
}
