import NHGDLinearAlgebra

extension FrequentDirectionsSketch {
    /// Borders the maintained Gram matrix `G = MᵀM` (stored units) with the columns appended
    /// since it was last current, `W = M[:, g..<m]` (ALGORITHMS.md §8b):
    ///
    /// ```
    /// G[0..<m, g..<m] = M[:, 0..<m]ᵀ W        (one gemm: the new columns against all, themselves included)
    /// G[g..<m, 0..<g] = G[0..<g, g..<m]ᵀ       (mirrored)
    /// ```
    ///
    /// The kept block `G[0..<k, 0..<k] = diag(σ²)` is set by the shrink that left those columns
    /// orthogonal; every other entry is an inner product of stored columns. A shrink calls this
    /// for the Gram trick's `K₁₂` and `K₂₂`, and a solve with a uniform diagonal μ for its
    /// capacitance `I + (c²/μ) G` without a p·m² build. Ingest does not: bordering after every
    /// ingested column would read the whole p×m buffer once per column (a gemv, memory-bound:
    /// at p = 10⁶ and ℓ = 16, with one column per SGD step, about 0.4 of the step it rode on),
    /// where one gemm per shrink or solve reads it once for all the columns that arrived in
    /// between.
    ///
    /// Sharded, the gemm runs over this rank's rows and the m×j block is summed across ranks
    /// (one allreduce), so every rank holds the same G; every rank reaches this at the same
    /// shrink or solve, so the collective stays in step.
    /// - Complexity: 2·p·m·j flops for j new columns; nothing when none arrived.
    mutating func updateGram() throws {
        let m = filledColumns, g = gramColumns, p = dimension, ld = 2 * rank
        guard m > g else { return }
        buffer.storage.withUnsafeBufferPointer { b in
            gram.storage.withUnsafeMutableBufferPointer { k in
                BLAS.gemm(.transpose, .none, m: m, n: m - g, k: p, b.baseAddress!, lda: p,
                          b.baseAddress! + g * p, ldb: p, beta: 0, k.baseAddress! + g * ld, ldc: ld)
            }
        }
        if shard.isDistributed { try sumGramAcrossRanks(rows: m, columns: g..<m) }
        gram.storage.withUnsafeMutableBufferPointer { k in
            for j in g..<m { for i in 0..<g { k[j + i * ld] = k[i + j * ld] } }
        }
        gramColumns = m
    }

    /// Recomputes `G = MᵀM` for all m columns by `syrk` (the full Gram of a re-orthogonalising
    /// shrink), discarding the structured kept block.
    /// - Complexity: p·m² flops.
    mutating func recomputeGram() throws {
        setGram(try bufferGram(columns: 0..<filledColumns))
    }

    /// Writes an m×m matrix into the leading block of `gram` and marks m columns current.
    mutating func setGram(_ g: Matrix) {
        let m = g.rows, ld = 2 * rank
        precondition(g.columns == m && m <= ld)
        gram.storage.withUnsafeMutableBufferPointer { k in
            for j in 0..<m { for i in 0..<m { k[i + j * ld] = g[i, j] } }
        }
        gramColumns = m
    }

    /// The leading m×m block of the maintained Gram matrix.
    func currentGram() -> Matrix {
        let m = gramColumns, ld = 2 * rank
        var g = Matrix(rows: m, columns: m)
        gram.storage.withUnsafeBufferPointer { k in
            for j in 0..<m { for i in 0..<m { g[i, j] = k[i + j * ld] } }
        }
        return g
    }

    /// After a shrink left the first `norms.count` columns orthogonal with these squared norms
    /// (stored units): `G = diag(norms)`.
    mutating func setDiagonalGram(_ norms: [Double]) {
        let ld = 2 * rank
        gram.storage.withUnsafeMutableBufferPointer { k in
            for j in 0..<norms.count {
                for i in 0..<norms.count { k[i + j * ld] = i == j ? norms[i] : 0 }
            }
        }
        gramColumns = norms.count
    }
}
