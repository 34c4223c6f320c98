import NHGDLinearAlgebra

/// Checks one block of gradients for `FisherSketch.ingest` and returns the row scales of the
/// Fisher stream (ALGORITHMS.md §3, §5):
///
/// ```
/// F ← (1 − β) F + β · (1/b) Σᵢ wᵢ gᵢ gᵢᵀ  =  (1 − β) F + Σᵢ aᵢ aᵢᵀ,    aᵢ = √(β wᵢ / b) · gᵢ
/// ```
///
/// so the "rows of A" that every sketch summarises are the gradients scaled by
/// `√(β wᵢ / b)`, and the old part of the stream is scaled by `√(1 − β)`.
///
/// Every check runs before any sketch is touched, which is how the sketches keep their
/// "a call that throws leaves the sketch unchanged" contract.
/// - Throws: `dimensionMismatch` (rows ≠ p, weights of the wrong length), `nonFinite`
///   (gradients, weights), `invalidArgument` (empty block, negative weight, β ∉ (0, 1],
///   including NaN and ±∞).
/// The whole block is scanned even when a compression will read only some columns, so
/// whether a block is accepted never depends on a random draw.
/// - Complexity: one pass over the block.
func validatedRowScales(
    _ gradients: Matrix, weights: [Double]?, forgetting beta: Double, dimension p: Int, operation: String
) throws -> [Double] {
    guard gradients.rows == p else {
        throw LinearAlgebraError.dimensionMismatch(
            operation: operation, expected: "gradients with \(p) rows", actual: "\(gradients.rows) rows")
    }
    let b = gradients.columns
    guard b > 0 else {
        throw LinearAlgebraError.invalidArgument(
            operation: operation, message: "the block of gradients is empty (the block mean (1/b) Σ needs b ≥ 1)")
    }
    guard beta.isFinite, beta > 0, beta <= 1 else {
        throw LinearAlgebraError.invalidArgument(
            operation: operation, message: "the forgetting factor β must lie in (0, 1], got \(beta)")
    }
    if let w = weights {
        try requireLength(w, b, operation, "weights")
        try requireFinite(w, operation, "weights")
        if let negative = w.firstIndex(where: { $0 < 0 }) {
            throw LinearAlgebraError.invalidArgument(
                operation: operation, message: "weights must be ≥ 0, but weights[\(negative)] = \(w[negative])")
        }
    }
    if let bad = gradients.firstNonFiniteIndex {
        throw LinearAlgebraError.nonFinite(operation: operation, argument: "gradients", index: bad)
    }
    let base = beta / Double(b)
    if let w = weights { return w.map { (base * $0).squareRoot() } }
    return [Double](repeating: base.squareRoot(), count: b)
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

/// Writes `scale[j] · multiplier · G[:, j]` for `j ∈ sourceColumns` into consecutive columns of
/// `destination` starting at `destinationColumn`, and, when `squaresInto` is given, adds the
/// squares of the written values times `squareWeight` to it (the exact-diagonal tracker).
/// - Complexity: one pass over the copied columns; no allocation.
func copyScaledColumns(
    of gradients: Matrix, columns sourceColumns: some Collection<Int>, scales: [Double], multiplier: Double,
    into destination: inout Matrix, at destinationColumn: Int,
    squaresInto diagonal: UnsafeMutableBufferPointer<Double>? = nil, squareWeight: Double = 1
) {
    let p = gradients.rows
    precondition(destination.rows == p && destinationColumn + sourceColumns.count <= destination.columns)
    gradients.storage.withUnsafeBufferPointer { src in
        destination.storage.withUnsafeMutableBufferPointer { dst in
            for (offset, j) in sourceColumns.enumerated() {
                let s = scales[j] * multiplier
                let from = src.baseAddress! + j * p
                let to = dst.baseAddress! + (destinationColumn + offset) * p
                if let diagonal {
                    let d = diagonal.baseAddress!
                    for i in 0..<p {
                        let x = s * from[i]
                        to[i] = x
                        d[i] += squareWeight * (x * x)
                    }
                } else {
                    for i in 0..<p { to[i] = s * from[i] }
                }
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
