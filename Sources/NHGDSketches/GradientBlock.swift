import NHGDLinearAlgebra

// The checks every sketch makes before it touches its state, which is how the sketches keep
// their "a call that throws leaves the sketch unchanged" contract, and the column kernels
// they share.

/// Checks a block handed to `FisherSketch.ingest(_:columns:forgetting:)`: p rows, a column
/// range inside the block, finite values in those columns, β ∈ (0, 1].
/// - Complexity: one pass over the columns.
func validateIngest(_ block: Matrix, columns: Range<Int>, forgetting beta: Double, dimension p: Int,
                    operation: String) throws {
    guard block.rows == p else {
        throw LinearAlgebraError.dimensionMismatch(
            operation: operation, expected: "columns with \(p) rows", actual: "\(block.rows) rows")
    }
    guard columns.lowerBound >= 0, columns.upperBound <= block.columns else {
        throw LinearAlgebraError.dimensionMismatch(
            operation: operation, expected: "a column range inside 0..<\(block.columns)",
            actual: "\(columns.lowerBound)..<\(columns.upperBound)")
    }
    try requireForgetting(beta, operation)
    if let bad = block.firstNonFiniteIndex(inColumns: columns) {
        throw LinearAlgebraError.nonFinite(operation: operation, argument: "columns", index: bad)
    }
}

/// Checks a forgetting factor: β ∈ (0, 1], finite.
func requireForgetting(_ beta: Double, _ operation: String) throws {
    guard beta.isFinite, beta > 0, beta <= 1 else {
        throw LinearAlgebraError.invalidArgument(
            operation: operation, message: "the forgetting factor β must lie in (0, 1], got \(beta)")
    }
}

/// Checks a configuration integer (rank, capacity, compressed width) is positive.
func requirePositive(_ value: Int, _ name: String, _ operation: String) throws {
    guard value > 0 else {
        throw LinearAlgebraError.invalidArgument(operation: operation, message: "\(name) must be ≥ 1, got \(value)")
    }
}

/// Checks the `extraDiagonal` argument of `lowRankPlusDiagonal(adding:)` and returns it, or
/// zeros when it is `nil`.
func validatedExtraDiagonal(_ extra: [Double]?, dimension p: Int, operation: String) throws -> [Double] {
    guard let extra else { return [Double](repeating: 0, count: p) }
    try requireLength(extra, p, operation, "extraDiagonal")
    try requireFinite(extra, operation, "extraDiagonal")
    return extra
}

extension Matrix {
    /// Whether every entry of column j is zero (such a column adds nothing to F).
    /// - Complexity: O(rows), stopping at the first nonzero.
    func isZeroColumn(_ j: Int) -> Bool {
        storage.withUnsafeBufferPointer { s in
            let column = s.baseAddress! + j * rows
            for i in 0..<rows where column[i] != 0 { return false }
            return true
        }
    }
}

/// Writes `multiplier · block[:, j]` into column `destinationColumn` of `destination` and, when
/// `squaresInto` is given, adds the squares of the written values times `squareWeight` to it
/// (the exact-diagonal tracker).
/// - Complexity: one pass over the column; no allocation.
func copyColumn(
    _ j: Int, of block: Matrix, multiplier: Double, into destination: inout Matrix, at destinationColumn: Int,
    squaresInto diagonal: UnsafeMutableBufferPointer<Double>? = nil, squareWeight: Double = 1
) {
    let p = block.rows
    precondition(destination.rows == p && destinationColumn < destination.columns, "copyColumn: shapes")
    block.storage.withUnsafeBufferPointer { src in
        destination.storage.withUnsafeMutableBufferPointer { dst in
            let from = src.baseAddress! + j * p, to = dst.baseAddress! + destinationColumn * p
            if let diagonal {
                let d = diagonal.baseAddress!
                for i in 0..<p {
                    let x = multiplier * from[i]
                    to[i] = x
                    d[i] += squareWeight * (x * x)
                }
            } else {
                for i in 0..<p { to[i] = multiplier * from[i] }
            }
        }
    }
}

/// Adds `weight · Σ_j M[i, j]²` over `columns` of `m` to `diagonal[i]`.
/// - Complexity: one pass over the columns.
func addSquaredRowNorms(of m: Matrix, columns: Range<Int>, weight: Double, to diagonal: inout [Double]) {
    let p = m.rows
    precondition(diagonal.count == p)
    m.storage.withUnsafeBufferPointer { src in
        diagonal.withUnsafeMutableBufferPointer { d in
            for j in columns {
                let col = src.baseAddress! + j * p
                for i in 0..<p { d[i] += weight * (col[i] * col[i]) }
            }
        }
    }
}
