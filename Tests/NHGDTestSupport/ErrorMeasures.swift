import NHGDLinearAlgebra

/// `‖x − reference‖₂ / ‖reference‖₂`, the normwise relative (forward) error; the absolute
/// error `‖x − reference‖₂` when the reference is zero. Infinite when the lengths differ.
public func relativeError(_ x: [Double], _ reference: [Double]) -> Double {
    guard x.count == reference.count else { return .infinity }
    let diff = zip(x, reference).map { $0 - $1 }
    let scale = BLAS.norm(reference)
    let err = BLAS.norm(diff)
    return scale == 0 ? err : err / scale
}

/// `‖X − R‖_F / ‖R‖_F` (absolute when `R = 0`); infinite when the shapes differ.
public func relativeError(_ x: Matrix, _ reference: Matrix) -> Double {
    guard x.rows == reference.rows, x.columns == reference.columns else { return .infinity }
    return relativeError(x.storage, reference.storage)
}

/// `max |xᵢ − yᵢ|`; infinite when the lengths differ, NaN if any entry is NaN.
public func maxAbsDifference(_ x: [Double], _ y: [Double]) -> Double {
    guard x.count == y.count else { return .infinity }
    var m = 0.0
    for (a, b) in zip(x, y) {
        let d = abs(a - b)
        if d.isNaN { return .nan }
        m = max(m, d)
    }
    return m
}

/// `max |Xᵢⱼ − Yᵢⱼ|`; infinite when the shapes differ.
public func maxAbsDifference(_ x: Matrix, _ y: Matrix) -> Double {
    guard x.rows == y.rows, x.columns == y.columns else { return .infinity }
    return maxAbsDifference(x.storage, y.storage)
}

/// `‖X‖_F`, overflow-safe (BLAS `nrm2` over the storage).
public func frobeniusNorm(_ x: Matrix) -> Double {
    BLAS.norm(x.storage)
}

/// `‖X‖₂ = σ_max(X)`, from the singular value decomposition (0 for an empty matrix).
/// - Complexity: O(m n min(m, n)).
public func spectralNorm(_ x: Matrix) throws -> Double {
    if x.rows == 0 || x.columns == 0 { return 0 }
    return try SingularValueDecomposition(x).singularValues.first ?? 0
}

/// `κ₂(A) = σ_max / σ_min` of a square matrix (infinite when singular).
public func conditionNumber(_ a: Matrix) throws -> Double {
    if a.rows == 0 { return 1 }
    let s = try SingularValueDecomposition(a).singularValues
    return s.last! == 0 ? .infinity : s.first! / s.last!
}

/// `A⁻¹ b` for a dense symmetric positive-definite `A` by LAPACK Cholesky (`dpotrf`/`dpotrs`):
/// the reference the matrix-free solvers are compared against.
/// - Throws: `notPositiveDefinite` when `A` is not SPD, `dimensionMismatch` for bad shapes.
public func denseSolve(_ a: Matrix, _ b: [Double]) throws -> [Double] {
    var x = b
    try CholeskyFactorization(a).solve(&x)
    return x
}

/// `A⁻¹ B` for a dense SPD `A` and a block of right-hand sides.
public func denseSolve(_ a: Matrix, _ b: Matrix) throws -> Matrix {
    var x = b
    try CholeskyFactorization(a).solve(&x)
    return x
}

/// `A x` by the textbook triple loop, in plain Swift: an independent reference for BLAS.
public func referenceProduct(_ a: Matrix, _ x: [Double]) -> [Double] {
    precondition(a.columns == x.count, "referenceProduct: shapes differ")
    var y = [Double](repeating: 0, count: a.rows)
    for j in 0..<a.columns {
        for i in 0..<a.rows { y[i] += a[i, j] * x[j] }
    }
    return y
}

/// `A B` by the textbook triple loop, in plain Swift: an independent reference for BLAS.
public func referenceProduct(_ a: Matrix, _ b: Matrix) -> Matrix {
    precondition(a.columns == b.rows, "referenceProduct: shapes differ")
    var c = Matrix(rows: a.rows, columns: b.columns)
    for j in 0..<b.columns {
        for l in 0..<a.columns {
            let blj = b[l, j]
            for i in 0..<a.rows { c[i, j] += a[i, l] * blj }
        }
    }
    return c
}

/// `max |xᵢ|`.
public func maxNorm(_ x: [Double]) -> Double {
    x.reduce(0) { max($0, abs($1)) }
}
