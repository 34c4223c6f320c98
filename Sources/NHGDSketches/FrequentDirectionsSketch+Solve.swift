import NHGDLinearAlgebra

/// The capacitance factor a sketch keeps between solves, and what it was built for.
struct CapacitanceCache: Sendable, Equatable {
    /// The sketch's ``FrequentDirectionsSketch/version`` when it was built.
    var version: Int
    /// The whole diagonal `D = E + compensation + λI` it was built for.
    var diagonal: Diagonal
    /// Cholesky factor of `C = I + c² Mᵀ D⁻¹ M`.
    var factor: CholeskyFactorization

    var byteCount: Int { factor.factor.byteCount }
}

extension FrequentDirectionsSketch {
    /// `(F̂ + E + λI)⁻¹` for the regulariser's curvature `E`, as a Woodbury factorisation that
    /// reads the buffer in place (ALGORITHMS.md §8b): no p×m copy, the column scale c folded
    /// into the small algebra, and the capacitance never rebuilt from scratch for a uniform
    /// diagonal.
    ///
    /// With `D = E + compensation + λI` (the compensation Δ/2 for `.scalar`, the residual
    /// diagonal for `.residualDiagonal`):
    /// - **uniform D = μI** (`c‖y‖²` regularisation, `.none` or `.scalar` compensation): the
    ///   capacitance is `C = I + (c²/μ) G` from the Gram matrix G the sketch keeps (diagonal
    ///   right after a shrink, bordered here by one gemm with the columns appended since), so
    ///   the estimate costs 2·p·m·j flops for j new columns, an m×m Cholesky factor, and then
    ///   two passes over the buffer per solve;
    /// - **non-uniform D** (per-feature L2, `.residualDiagonal`): `C = I + c² MᵀD⁻¹M` by one
    ///   blocked `syrk` (p·m² flops) when D or the sketch changed since the last call.
    ///
    /// Either factor is kept (``CapacitanceCache``) and reused while neither the sketch nor D
    /// changed, so the solves of a preconditioned iteration share one factorisation. The
    /// returned factorisation shares the buffer's storage: drop it before the next ingest (or
    /// that ingest copies the buffer).
    /// - Throws: `dimensionMismatch` or `nonFinite` for a bad `E`, `invalidArgument` for a
    ///   negative or non-finite λ or a diagonal that is not positive.
    /// - Complexity: 2·p·m·j + O(m³) (uniform D, j columns since the Gram was last bordered) or
    ///   p·m² + O(m³) (otherwise) when not cached; O(1) (or
    ///   O(p) to compare a non-uniform D) when cached.
    public mutating func inverse(adding extra: Diagonal, damping lambda: Double) throws -> WoodburyFactorization {
        let operation = "FrequentDirectionsSketch.inverse"
        guard extra.dimension == dimension else {
            throw LinearAlgebraError.dimensionMismatch(operation: operation, expected: "a diagonal of length \(dimension)",
                                                       actual: "length \(extra.dimension)")
        }
        guard extra.isFinite else {
            throw LinearAlgebraError.nonFinite(operation: operation, argument: "extra diagonal", index: 0)
        }
        guard lambda >= 0, lambda.isFinite else {
            throw LinearAlgebraError.invalidArgument(operation: operation, message: "damping must be finite and ≥ 0, got \(lambda)")
        }
        let m = filledColumns, c = columnScale
        let diagonal = compensated(extra).adding(lambda)
        if let cached = capacitanceCache, cached.version == version, cached.diagonal == diagonal {
            return try WoodburyFactorization(diagonal: diagonal, factor: buffer, columns: m, columnScale: c,
                                             capacitanceFactor: cached.factor, shard: shard)
        }
        let capacitance: Matrix
        let uniform = diagonal.uniformValue.map { $0 > 0 && $0.isFinite } ?? false
        if shard.isDistributed, !uniform {
            // A positive diagonal on every rank, checked before any collective: each rank
            // tests its rows and the verdict is agreed.
            var bad = [Double](repeating: 0, count: 1)
            for i in 0..<dimension where !(diagonal[i] > 0 && diagonal[i].isFinite) { bad[0] = 1; break }
            try shard.communicator.allreduceSum(&bad)
            if bad[0] > 0 {
                throw LinearAlgebraError.invalidArgument(operation: operation,
                                                         message: "diagonal + damping must be positive on every rank")
            }
        }
        if let mu = diagonal.uniformValue, mu > 0, mu.isFinite {
            try updateGram()
            var g = currentGram()
            BLAS.scale(&g.storage, by: c * c / mu)
            for i in 0..<m { g[i, i] += 1 }
            capacitance = g
        } else {
            capacitance = try WoodburyFactorization.capacitance(factor: buffer, columns: m, columnScale: c,
                                                                diagonal: diagonal, shard: shard)
        }
        if shard.isDistributed {
            // Factored once, on rank 0, and broadcast (ranks cannot drift apart by rounding).
            let factor = try CholeskyFactorization(capacitance, factoredOnRootOf: shard.communicator)
            let factorization = try WoodburyFactorization(diagonal: diagonal, factor: buffer, columns: m, columnScale: c,
                                                          capacitanceFactor: factor, shard: shard)
            capacitanceCache = CapacitanceCache(version: version, diagonal: diagonal, factor: factor)
            return factorization
        }
        let factorization = try WoodburyFactorization(diagonal: diagonal, factor: buffer, columns: m, columnScale: c,
                                                      capacitance: capacitance)
        capacitanceCache = CapacitanceCache(version: version, diagonal: diagonal, factor: factorization.capacitance)
        return factorization
    }

    /// `E` plus the compensation: `Δ/2` for `.scalar`, `max(0, diag(AᵀA) − diag(BBᵀ))` for
    /// `.residualDiagonal` (the clamp only removes rounding-level negatives since
    /// `diag(AᵀA − BBᵀ) ≥ 0`).
    /// - Complexity: O(1), or one pass over the buffer for `.residualDiagonal`.
    func compensated(_ extra: Diagonal) -> Diagonal {
        switch compensation {
        case .none:
            return extra
        case .scalar:
            return extra.adding(shrunkMass / 2)
        case .residualDiagonal:
            var sketched = [Double](repeating: 0, count: dimension)
            addSquaredRowNorms(of: buffer, columns: 0..<filledColumns, weight: columnScale * columnScale, to: &sketched)
            return Diagonal(entries: (0..<dimension).map { extra[$0] + max(0, exactDiagonal[$0] - sketched[$0]) })
        }
    }
}

