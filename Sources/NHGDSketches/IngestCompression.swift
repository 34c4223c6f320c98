import NHGDLinearAlgebra

/// How a block of b per-sample gradients becomes the columns a Fisher sketch ingests
/// (ALGORITHMS.md §5, §8a). Every choice is a b×s coefficient matrix C, and the sketch receives
/// the combinations `G C` of the block's gradients `G = [g₁ … g_b]`, which the inner loop's
/// combination oracle computes without forming G. With the row scales `√(β wᵢ / b)` folded
/// into C, every choice is unbiased for the block's contribution to the forgetting update:
///
/// ```
/// E[(G C)(G C)ᵀ] = β · (1/b) Σᵢ wᵢ gᵢ gᵢᵀ.
/// ```
public enum IngestCompression: Sendable, Equatable, Hashable {
    /// Every gradient is a column: `C = diag(√(β wᵢ / b))` (s = b).
    case none
    /// `C = diag(√(β wᵢ / b)) Ω`, Ω a b×s matrix of independent N(0, 1/s) entries:
    /// `E[Ω Ωᵀ] = I`, so the estimate is unbiased, and every gradient contributes to every
    /// column. Docs/sketches.md gives the error against s.
    case gaussian(columns: Int)
    /// s of the b gradients, chosen uniformly without replacement, each scaled by `√(b/s)`
    /// (C: s scaled unit columns). Every gradient is kept with probability s/b, so
    /// `E[(b/s) Σ_{j∈S} aⱼaⱼᵀ] = Σⱼ aⱼaⱼᵀ` (unbiased); the variance is that of sampling without
    /// replacement, `(b − s)/(b − 1)` times the with-replacement one, and vanishes at s = b
    /// (s ≥ b is ``none``: every column in order, nothing drawn).
    case sampledColumns(columns: Int)

    /// s, the number of columns a block of b gradients becomes.
    public func columnCount(blockSize b: Int) -> Int {
        switch self {
        case .none: return b
        case .gaussian(let s): return s
        case .sampledColumns(let s): return min(s, b)
        }
    }

    /// Checks the configured width (s ≥ 1).
    /// - Throws: `invalidArgument` naming the width.
    public func validate(operation: String) throws {
        switch self {
        case .none: return
        case .gaussian(let s): try requirePositive(s, "compressed width s", operation)
        case .sampledColumns(let s): try requirePositive(s, "sampled width s", operation)
        }
    }

    /// The b×s coefficient matrix C for a block of b samples with weights `weights` (all ones
    /// when `nil`) and forgetting factor β, with any randomness drawn from `rng`.
    /// - Throws: `invalidArgument` (b = 0, a negative weight, β ∉ (0, 1] including NaN, a width
    ///   s < 1), `dimensionMismatch` (weights not of length b), `nonFinite` (weights).
    /// - Complexity: O(b·s), b·s Gaussian draws for ``gaussian(columns:)``.
    public func coefficients(
        weights: [Double]?, blockSize b: Int, forgetting beta: Double, using rng: inout some RandomNumberGenerator
    ) throws -> Matrix {
        let operation = "IngestCompression.coefficients"
        try validate(operation: operation)
        let scales = try rowScales(weights: weights, blockSize: b, forgetting: beta, operation: operation)
        let s = columnCount(blockSize: b)
        var c = Matrix(rows: b, columns: s)
        fill(&c, columns: 0..<s, rowScales: scales, using: &rng)
        return c
    }

    /// Writes this compression's coefficients into the columns `columns` of `c` (b rows;
    /// `columns.count == columnCount(blockSize: b)`), for samples whose row scales
    /// `√(β wᵢ / b)` are `rowScales` (unchecked: the inner loop computes them from validated
    /// weights).
    public func fill(_ c: inout Matrix, columns: Range<Int>, rowScales: [Double],
                     using rng: inout some RandomNumberGenerator) {
        let b = c.rows
        precondition(rowScales.count == b && columns.count == columnCount(blockSize: b) && columns.upperBound <= c.columns,
                     "IngestCompression.fill: shapes")
        c.storage.withUnsafeMutableBufferPointer { cp in
            for j in columns { for i in 0..<b { cp[i + j * b] = 0 } }
            switch self {
            case .none:
                for (offset, j) in columns.enumerated() { cp[offset + j * b] = rowScales[offset] }
            case .gaussian(let s):
                let normalisation = 1 / Double(s).squareRoot()
                for j in columns {
                    for i in 0..<b { cp[i + j * b] = rng.nextGaussian() * normalisation * rowScales[i] }
                }
            case .sampledColumns(let width) where width >= b:
                // Every column, unscaled and in order: no draw (s ≥ b is no compression).
                for (offset, j) in columns.enumerated() { cp[offset + j * b] = rowScales[offset] }
            case .sampledColumns:
                // A partial Fisher–Yates: the first s entries of `order` are a uniform s-subset.
                let s = columns.count
                var order = Array(0..<b)
                for i in 0..<s { order.swapAt(i, i + Int(rng.next(upperBound: UInt64(b - i)))) }
                let boost = (Double(b) / Double(s)).squareRoot()
                for (offset, j) in columns.enumerated() {
                    let i = order[offset]
                    cp[i + j * b] = rowScales[i] * boost
                }
            }
        }
    }

    /// `√(β wᵢ / b)`, the scales that make the block's columns rows of the Fisher stream
    /// `F ← (1 − β) F + Σᵢ aᵢ aᵢᵀ`, after checking weights and β.
    public func rowScales(weights: [Double]?, blockSize b: Int, forgetting beta: Double,
                          operation: String) throws -> [Double] {
        guard b > 0 else {
            throw LinearAlgebraError.invalidArgument(
                operation: operation, message: "the block of gradients is empty (the block mean (1/b) Σ needs b ≥ 1)")
        }
        try requireForgetting(beta, operation)
        if let w = weights {
            try requireLength(w, b, operation, "weights")
            try requireFinite(w, operation, "weights")
            if let negative = w.firstIndex(where: { $0 < 0 }) {
                throw LinearAlgebraError.invalidArgument(
                    operation: operation, message: "weights must be ≥ 0, but weights[\(negative)] = \(w[negative])")
            }
        }
        let base = beta / Double(b)
        if let w = weights { return w.map { (base * $0).squareRoot() } }
        return [Double](repeating: base.squareRoot(), count: b)
    }
}
