import NHGDLinearAlgebra
import NHGDTestSupport

/// The threshold LAPACK's own test suite applies to its scaled residual ratios
/// (`resid / (n · ‖A‖ · eps)`, for example in `dpot02`, `dsyt21`, `dbdt01`, `dqrt01`;
/// LAPACK Working Note 41, "Installation Guide for LAPACK", §6: a ratio under the threshold
/// `THRESH = 30` passes). A backward-stable routine has ratios of order 1 in practice; a bug
/// gives ratios of order 1/eps.
let lapackThreshold = 30.0

let eps = Double.ulpOfOne

/// `op(A)` as an explicit matrix (the transpose is an exact copy).
func explicit(_ trans: Transpose, _ a: Matrix, columns range: Range<Int>) -> Matrix {
    var sub = Matrix(rows: a.rows, columns: range.count)
    for (jj, j) in range.enumerated() { for i in 0..<a.rows { sub[i, jj] = a[i, j] } }
    return trans == .none ? sub : sub.transposed
}

/// Elementwise absolute value.
func absolute(_ a: Matrix) -> Matrix {
    var m = a
    for i in 0..<m.storage.count { m.storage[i] = abs(m.storage[i]) }
    return m
}

/// A random sub-range of `0..<n` (possibly empty).
func columnRange(_ c: inout PropertyCase, _ n: Int) -> Range<Int> {
    let lo = c.int(in: 0...n)
    let hi = c.int(in: lo...n)
    return lo..<hi
}
