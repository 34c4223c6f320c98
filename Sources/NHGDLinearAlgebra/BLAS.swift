import Foundation
internal import CLAPACK

/// Whether a BLAS operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none, transpose
    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Thin, checked wrappers over the CBLAS routines the library needs.
///
/// Each wrapper checks shapes and converts sizes at the one `lapackInt` boundary, then calls
/// OpenBLAS on column-major storage. Operands may be restricted to a contiguous range of
/// columns (`…Columns:` arguments): in column-major order that is a contiguous sub-matrix,
/// which is how streaming buffers address their filled part without copying.
public enum BLAS {
    /// `y ← α·op(A)·x + β·y` over the columns `aColumns` of `A` (all by default).
    /// - Complexity: 2·rows·columns flops, one pass over `A`.
    public static func gemv(
        _ trans: Transpose = .none, alpha: Double = 1, _ a: Matrix, columns aColumns: Range<Int>? = nil,
        _ x: [Double], beta: Double = 0, _ y: inout [Double]
    ) throws {
        let cols = aColumns ?? 0..<a.columns
        precondition(cols.lowerBound >= 0 && cols.upperBound <= a.columns, "gemv: column range out of bounds")
        let (xLength, yLength) = trans == .none ? (cols.count, a.rows) : (a.rows, cols.count)
        guard x.count == xLength, y.count == yLength else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "gemv", expected: "x of length \(xLength), y of length \(yLength)",
                actual: "x of length \(x.count), y of length \(y.count)")
        }
        if yLength == 0 { return }
        if xLength == 0 { scale(&y, by: beta); return }
        let m = try lapackInt(a.rows, "gemv"), n = try lapackInt(cols.count, "gemv")
        let lda = try lapackInt(max(1, a.rows), "gemv")
        a.storage.withUnsafeBufferPointer { ap in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    cblas_dgemv(CblasColMajor, trans.cblas, m, n, alpha,
                                ap.baseAddress! + cols.lowerBound * a.rows, lda,
                                xp.baseAddress, 1, beta, yp.baseAddress, 1)
                }
            }
        }
    }

    /// `C[:, cColumns] ← α·op(A[:, aColumns])·op(B[:, bColumns]) + β·C[:, cColumns]`.
    /// - Complexity: 2·m·n·k flops.
    public static func gemm(
        _ transA: Transpose = .none, _ transB: Transpose = .none, alpha: Double = 1,
        _ a: Matrix, columns aColumns: Range<Int>? = nil,
        _ b: Matrix, columns bColumns: Range<Int>? = nil,
        beta: Double = 0, _ c: inout Matrix, columns cColumns: Range<Int>? = nil
    ) throws {
        let ac = aColumns ?? 0..<a.columns, bc = bColumns ?? 0..<b.columns, cc = cColumns ?? 0..<c.columns
        precondition(ac.upperBound <= a.columns && bc.upperBound <= b.columns && cc.upperBound <= c.columns,
                     "gemm: column range out of bounds")
        let (m, kA) = transA == .none ? (a.rows, ac.count) : (ac.count, a.rows)
        let (kB, n) = transB == .none ? (b.rows, bc.count) : (bc.count, b.rows)
        guard kA == kB, c.rows == m, cc.count == n else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "gemm", expected: "op(A) \(m)×\(kA) · op(B) \(kA)×\(n) into C \(m)×\(n)",
                actual: "op(B) \(kB)×\(n), C \(c.rows)×\(cc.count)")
        }
        if m == 0 || n == 0 { return }
        let rowsC = c.rows
        if kA == 0 {
            c.storage.withUnsafeMutableBufferPointer { cp in
                for i in (cc.lowerBound * rowsC)..<(cc.upperBound * rowsC) { cp[i] *= beta }
            }
            return
        }
        let mi = try lapackInt(m, "gemm"), ni = try lapackInt(n, "gemm"), ki = try lapackInt(kA, "gemm")
        let lda = try lapackInt(max(1, a.rows), "gemm"), ldb = try lapackInt(max(1, b.rows), "gemm")
        let ldc = try lapackInt(max(1, c.rows), "gemm")
        let aRows = a.rows, bRows = b.rows
        a.storage.withUnsafeBufferPointer { ap in
            b.storage.withUnsafeBufferPointer { bp in
                c.storage.withUnsafeMutableBufferPointer { cp in
                    cblas_dgemm(CblasColMajor, transA.cblas, transB.cblas, mi, ni, ki, alpha,
                                ap.baseAddress! + ac.lowerBound * aRows, lda,
                                bp.baseAddress! + bc.lowerBound * bRows, ldb, beta,
                                cp.baseAddress! + cc.lowerBound * rowsC, ldc)
                }
            }
        }
    }

    /// Symmetric rank-k update `C ← α·op(A)·op(A)ᵀ + β·C` with `op = transpose` giving
    /// `AᵀA` (the Gram matrix of the columns). Both triangles of `C` are filled on return.
    /// - Complexity: n²·k flops for an n×n result.
    public static func syrk(
        _ trans: Transpose, alpha: Double = 1, _ a: Matrix, columns aColumns: Range<Int>? = nil,
        beta: Double = 0, _ c: inout Matrix
    ) throws {
        let ac = aColumns ?? 0..<a.columns
        precondition(ac.upperBound <= a.columns, "syrk: column range out of bounds")
        let (n, k) = trans == .none ? (a.rows, ac.count) : (ac.count, a.rows)
        guard c.rows == n, c.columns == n else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "syrk", expected: "C of size \(n)×\(n)", actual: "\(c.rows)×\(c.columns)")
        }
        if n == 0 { return }
        if k == 0 {
            scale(&c.storage, by: beta)
            return
        }
        let ni = try lapackInt(n, "syrk"), ki = try lapackInt(k, "syrk")
        let lda = try lapackInt(max(1, a.rows), "syrk")
        let aRows = a.rows
        a.storage.withUnsafeBufferPointer { ap in
            c.storage.withUnsafeMutableBufferPointer { cp in
                cblas_dsyrk(CblasColMajor, CblasLower, trans.cblas, ni, ki, alpha,
                            ap.baseAddress! + ac.lowerBound * aRows, lda, beta, cp.baseAddress, ni)
            }
        }
        c.symmetrizeFromLower()
    }

    /// Which side of `B` a triangular solve multiplies by `op(A)⁻¹`.
    public enum Side: Sendable { case left, right }
    /// Which triangle of a triangular matrix is read (the other is ignored).
    public enum Triangle: Sendable { case lower, upper }

    /// Triangular solve in place: `B ← α·op(A)⁻¹·B` (`.left`) or `B ← α·B·op(A)⁻¹` (`.right`),
    /// with `A` square, triangular in `triangle` (the other triangle is not read) and a
    /// non-unit diagonal. No singularity check: a zero on the diagonal gives ±∞ or NaN, as in BLAS.
    /// - Complexity: n²·m flops for an n×n `A` and m right-hand sides.
    public static func trsm(
        _ side: Side, _ triangle: Triangle, _ trans: Transpose, alpha: Double = 1,
        _ a: Matrix, _ b: inout Matrix
    ) throws {
        let n = side == .left ? b.rows : b.columns
        guard a.rows == a.columns, a.rows == n else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "trsm", expected: "a square A of order \(n) (\(side == .left ? "rows" : "columns") of B)",
                actual: "A \(a.rows)×\(a.columns)")
        }
        if b.rows == 0 || b.columns == 0 { return }
        let mi = try lapackInt(b.rows, "trsm"), ni = try lapackInt(b.columns, "trsm")
        let lda = try lapackInt(max(1, a.rows), "trsm")
        a.storage.withUnsafeBufferPointer { ap in
            b.storage.withUnsafeMutableBufferPointer { bp in
                cblas_dtrsm(CblasColMajor, side == .left ? CblasLeft : CblasRight,
                            triangle == .lower ? CblasLower : CblasUpper, trans.cblas, CblasNonUnit,
                            mi, ni, alpha, ap.baseAddress, lda, bp.baseAddress, mi)
            }
        }
    }

    /// `⟨x, y⟩`. - Complexity: one pass.
    public static func dot(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "dot: lengths differ")
        guard let n = Int32(exactly: x.count) else { return zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        return x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in cblas_ddot(n, xp.baseAddress, 1, yp.baseAddress, 1) }
        }
    }

    /// `‖x‖₂`, overflow-safe (BLAS `nrm2`).
    public static func norm(_ x: [Double]) -> Double {
        guard let n = Int32(exactly: x.count) else { return x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return x.withUnsafeBufferPointer { cblas_dnrm2(n, $0.baseAddress, 1) }
    }

    /// `‖M[:, j]‖₂`, overflow-safe (BLAS `nrm2` on the column in place).
    public static func columnNorm(_ m: Matrix, _ j: Int) -> Double {
        precondition(j >= 0 && j < m.columns, "columnNorm: column out of range")
        guard let n = Int32(exactly: m.rows) else { return m.column(j).reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return m.storage.withUnsafeBufferPointer { cblas_dnrm2(n, $0.baseAddress! + j * m.rows, 1) }
    }

    /// `y ← α·x + y`.
    public static func axpy(_ alpha: Double, _ x: [Double], _ y: inout [Double]) {
        precondition(x.count == y.count, "axpy: lengths differ")
        let n = Int32(x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in cblas_daxpy(n, alpha, xp.baseAddress, 1, yp.baseAddress, 1) }
        }
    }

    /// `x ← α·x`.
    public static func scale(_ x: inout [Double], by alpha: Double) {
        if alpha == 1 { return }
        let n = Int32(x.count)
        x.withUnsafeMutableBufferPointer { cblas_dscal(n, alpha, $0.baseAddress, 1) }
    }

    /// OpenBLAS's thread count, a process-wide setting. Set it explicitly where reproducibility
    /// or pinning work to one core matters (the pipelined optimiser runs each worker with one
    /// thread). Setting it waits while a ``withThreadCount(_:_:)`` block runs elsewhere.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set {
            threadCountLock.lock()
            defer { threadCountLock.unlock() }
            openblas_set_num_threads(Int32(max(1, newValue)))
        }
    }

    /// Runs `body` with OpenBLAS at `count` threads and restores the previous count after.
    ///
    /// The count is process-wide state, and BLAS results depend on it in their last bits (the
    /// reduction order follows the split across threads). So the block holds a process-wide
    /// recursive lock: no other thread changes the count meanwhile, and concurrent
    /// `withThreadCount` blocks run one after the other. Use it around work that must be
    /// reproducible bit for bit.
    public static func withThreadCount<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
        threadCountLock.lock()
        defer { threadCountLock.unlock() }
        let saved = threadCount
        threadCount = count
        defer { threadCount = saved }
        return try body()
    }

    private static let threadCountLock = NSRecursiveLock()
}

extension Matrix {
    /// Copies the lower triangle onto the upper one (square matrices only).
    public mutating func symmetrizeFromLower() {
        precondition(rows == columns)
        let n = rows
        storage.withUnsafeMutableBufferPointer { s in
            for j in 0..<n {
                for i in (j + 1)..<n { s[j + i * n] = s[i + j * n] }
            }
        }
    }
}
