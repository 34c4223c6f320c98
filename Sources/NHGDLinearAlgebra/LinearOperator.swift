/// A symmetric linear map on ℝⁿ known only through its action: the shape every iterative
/// solver here (conjugate gradients, Neumann series) consumes, as in jaxopt's `matvec`.
///
/// Conformers implement ``apply(_:into:)``; ``apply(block:)`` has a default that applies the
/// operator to one column at a time, and an operator that can do a block faster (two `gemm`s
/// instead of m pairs of `gemv`s, or one batched pass over data for m Hessian-vector
/// products) implements it too. Sketching algorithms that need k products at once
/// (``NystromApproximation``) call the block form.
public protocol LinearOperator {
    /// n, the length of the vectors it maps.
    var dimension: Int { get }
    /// `y ← A v`, writing into caller-owned storage of length n (no allocation).
    func apply(_ v: [Double], into y: inout [Double]) throws
    /// `A V` for an n×m block `V`, as a new n×m matrix.
    func apply(block v: Matrix) throws -> Matrix
}

extension LinearOperator {
    /// `A v` as a new vector.
    public func apply(_ v: [Double]) throws -> [Double] {
        var y = [Double](repeating: 0, count: dimension)
        try apply(v, into: &y)
        return y
    }

    /// `A V` column by column through ``apply(_:into:)`` (the default; conformers may do better).
    /// - Throws: `dimensionMismatch` when `V` does not have n rows; otherwise whatever
    ///   ``apply(_:into:)`` throws for a column (its indices are then within that column).
    /// - Complexity: m applications of the operator, two length-n copies per column.
    public func apply(block v: Matrix) throws -> Matrix {
        let n = dimension
        guard v.rows == n else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "LinearOperator.apply(block:)", expected: "\(n) rows", actual: "\(v.rows) rows")
        }
        var result = Matrix(rows: n, columns: v.columns)
        var x = [Double](repeating: 0, count: n), y = [Double](repeating: 0, count: n)
        for j in 0..<v.columns {
            v.storage.withUnsafeBufferPointer { src in
                for i in 0..<n { x[i] = src[i + j * n] }
            }
            try apply(x, into: &y)
            result.storage.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n { dst[i + j * n] = y[i] }
            }
        }
        return result
    }
}

/// Checks that `v` is finite, naming the operation and argument in the error.
@inlinable
public func requireFinite(_ v: [Double], _ operation: String, _ argument: String) throws {
    if let bad = v.firstNonFiniteIndex {
        throw LinearAlgebraError.nonFinite(operation: operation, argument: argument, index: bad)
    }
}

/// Checks that `v` has length `n`.
@inlinable
public func requireLength(_ v: [Double], _ n: Int, _ operation: String, _ argument: String) throws {
    if v.count != n {
        throw LinearAlgebraError.dimensionMismatch(
            operation: operation, expected: "\(argument) of length \(n)", actual: "length \(v.count)")
    }
}

/// Checks that `m` has `rows` rows and finite entries (a block of right-hand sides or inputs).
public func requireBlock(_ m: Matrix, rows: Int, _ operation: String, _ argument: String) throws {
    guard m.rows == rows else {
        throw LinearAlgebraError.dimensionMismatch(operation: operation, expected: "\(argument) with \(rows) rows",
                                                   actual: "\(m.rows) rows")
    }
    if let bad = m.firstNonFiniteIndex {
        throw LinearAlgebraError.nonFinite(operation: operation, argument: argument, index: bad)
    }
}

/// Checks that `m` is square with finite entries (the input of a factorisation).
func requireSquareFinite(_ m: Matrix, _ operation: String) throws {
    guard m.rows == m.columns else {
        throw LinearAlgebraError.dimensionMismatch(operation: operation, expected: "a square matrix",
                                                   actual: "\(m.rows)×\(m.columns)")
    }
    if let bad = m.firstNonFiniteIndex {
        throw LinearAlgebraError.nonFinite(operation: operation, argument: "matrix", index: bad)
    }
}

/// Checks the arguments of `apply(_:into:)`: `v` and `y` of length n, `v` finite.
func requireApplyArguments(_ v: [Double], _ y: [Double], _ n: Int, _ operation: String) throws {
    try requireLength(v, n, operation, "v")
    try requireLength(y, n, operation, "y")
    try requireFinite(v, operation, "v")
}
