internal import CLAPACK

extension BLAS {
    /// `C ← α·op(A)·op(B) + β·C` on raw column-major storage with explicit leading dimensions:
    /// for kernels that address sub-blocks a ``Matrix`` cannot name (one parameter block of a
    /// p × s gradient block, say). Unchecked: the caller guarantees the sizes and that every
    /// dimension fits `Int32`.
    /// - Complexity: 2·m·n·k flops.
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Double = 1,
        _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
        beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        precondition(m <= Int32.max && n <= Int32.max && k <= Int32.max && lda <= Int32.max && ldb <= Int32.max
                     && ldc <= Int32.max, "BLAS.gemm: sizes beyond Int32")
        cblas_dgemm(CblasColMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(max(1, lda)), b, Int32(max(1, ldb)), beta, c, Int32(max(1, ldc)))
    }
}
