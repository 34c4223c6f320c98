internal import CLAPACK

/// The factored inverse of `A = D + c² M Mᵀ` by the Woodbury identity (ALGORITHMS.md §4), for a
/// diagonal `D > 0` and the leading m columns of a p×· matrix M scaled by c:
///
/// ```
/// A⁻¹ v = D⁻¹ (v − c² M C⁻¹ Mᵀ D⁻¹ v),     C = I_m + c² Mᵀ D⁻¹ M     (m×m, C ⪰ I)
/// ```
///
/// `C ⪰ I`, so in exact arithmetic its Cholesky factorisation cannot fail, and
/// `κ(C) ≤ 1 + c²‖D^{-1/2} M‖²`. `C⁻¹` is never formed: solves go through `dpotrs`.
///
/// **No copy of the factor.** M is read in place (its storage is shared copy-on-write with the
/// matrix it came from, and only its leading m columns — a prefix of the column-major
/// storage — are used), and the scale c enters the small algebra only. So a Frequent
/// Directions sketch can hand its buffer `c·M` to a solve without the p×m copy and rescale,
/// and with its own m×m Gram matrix supply `C` (for a uniform D, `C = I + (c²/μ) MᵀM`) without
/// the p·m² build (``init(diagonal:factor:columns:columnScale:capacitance:)``).
///
/// A factorisation is immutable and can be shared across threads; as long as it is alive it
/// shares M's storage, so drop it before the matrix it came from is mutated (or that mutation
/// copies the storage).
///
/// **Sharded across ranks** (``shard``, ALGORITHMS.md §8): each rank holds its rows of D, M
/// and of every right-hand side; the capacitance `C = I + c² Σ_ranks M_rᵀ D_r⁻¹ M_r` is a sum
/// of per-rank m×m parts, factored once on rank 0 and broadcast, and a solve is the same two
/// passes over the local rows with one allreduce of the m-vector `Mᵀ D⁻¹ v` between them:
///
/// ```
/// t = Σ_ranks M_rᵀ D_r⁻¹ v_r   (allreduce of m doubles),   x_r = D_r⁻¹ (v_r − c² M_r C⁻¹ t)
/// ```
///
/// With the single-process shard (the default) no collective is called.
public struct WoodburyFactorization: Sendable, LinearOperator {
    /// The damping λ this factorisation was built for (already added to ``diagonal``).
    public let damping: Double
    /// `D` (all entries positive), uniform when it is a multiple of I.
    public let diagonal: Diagonal
    /// `1 / D` entrywise (empty for a uniform D).
    let inverseDiagonal: [Double]
    /// M (p×·), shared with its owner; the leading ``rank`` columns are used.
    let factor: Matrix
    /// m.
    public let rank: Int
    /// c.
    public let columnScale: Double
    /// Cholesky factor of the capacitance matrix `C`.
    public let capacitance: CholeskyFactorization
    /// The rows of the p-dimensional operator this factorisation holds (all of them unless it
    /// is sharded across ranks); ``dimension`` is the local row count.
    public let shard: RowShard

    public var dimension: Int { diagonal.dimension }

    /// Rows of M processed per block when forming `C`; bounds the scratch to `rowBlock × m`.
    static let rowBlock = 2048

    /// `A = diag(d) + λI + U Uᵀ` with every column of `U`, and `C` built by blocked `dsyrk`.
    /// - Throws: `invalidArgument` if some `dᵢ + λ ≤ 0`.
    /// - Complexity: p·k² flops for `C`, k³/3 for its Cholesky factor, O(p) for the diagonal.
    init(diagonal: [Double], factor: Matrix, damping: Double) throws {
        try self.init(diagonal: Diagonal(entries: diagonal), factor: factor, columns: factor.columns, columnScale: 1,
                      damping: damping, capacitance: nil)
    }

    /// `A = D + c² M[:, 0..<m] M[:, 0..<m]ᵀ` with `C` given (m×m, `I + c² MᵀD⁻¹M`, for example
    /// from a sketch's Gram matrix) or, when `nil`, built by blocked `dsyrk` over the rows of M
    /// scaled by `c·D^{-1/2}` (no p×m temporary).
    /// - Throws: `invalidArgument` for a diagonal that is not positive and finite, or a scale
    ///   that is not; `notPositiveDefinite` if the given `C` is not (it is ⪰ I in exact arithmetic).
    /// - Complexity: with `C` given, m³/3 flops; otherwise p·m² + m³/3 (and O(p) for a
    ///   non-uniform D).
    public init(diagonal: Diagonal, factor: Matrix, columns m: Int, columnScale c: Double,
                capacitance: Matrix?) throws {
        try self.init(diagonal: diagonal, factor: factor, columns: m, columnScale: c, damping: 0, capacitance: capacitance)
    }

    /// As ``init(diagonal:factor:columns:columnScale:capacitance:)`` with the capacitance
    /// already factored (a sketch that keeps it between solves). With a `shard`, `diagonal` and
    /// `factor` are this rank's rows and the factor must be the same on every rank (the sum of
    /// the ranks' parts, factored on rank 0: ``CholeskyFactorization/init(_:factoredOnRootOf:)``).
    /// - Complexity: O(p) for a non-uniform D, O(1) otherwise: nothing p·m-sized.
    public init(diagonal: Diagonal, factor: Matrix, columns m: Int, columnScale c: Double,
                capacitanceFactor: CholeskyFactorization, shard: RowShard? = nil) throws {
        precondition(capacitanceFactor.dimension == m, "Woodbury: capacitance factor shape")
        try self.init(diagonal: diagonal, factor: factor, columns: m, columnScale: c, damping: 0, capacitance: nil,
                      factored: capacitanceFactor, shard: shard)
    }

    private init(diagonal given: Diagonal, factor: Matrix, columns m: Int, columnScale c: Double, damping: Double,
                 capacitance: Matrix?, factored: CholeskyFactorization? = nil, shard: RowShard? = nil) throws {
        precondition(m >= 0 && m <= factor.columns && factor.rows == given.dimension, "Woodbury: shapes")
        precondition(shard == nil || shard!.localDimension == given.dimension, "Woodbury: shard rows")
        precondition(shard == nil || !shard!.isDistributed || factored != nil,
                     "Woodbury: a sharded factorisation needs its capacitance factored on rank 0")
        self.shard = shard ?? .whole(given.dimension)
        guard c.isFinite, c > 0 else {
            throw LinearAlgebraError.invalidArgument(operation: "LowRankPlusDiagonal.solve",
                                                     message: "the column scale must be positive and finite, got \(c)")
        }
        let shifted = given.adding(damping)
        let p = shifted.dimension
        if let value = shifted.uniformValue {
            guard value > 0, value.isFinite else {
                throw LinearAlgebraError.invalidArgument(
                    operation: "LowRankPlusDiagonal.solve",
                    message: "diagonal + damping must be positive, but d + λ = \(value - damping) + \(damping) = \(value)")
            }
            inverseDiagonal = []
        } else {
            var inverse = [Double](repeating: 0, count: p)
            for i in 0..<p {
                let s = shifted[i]
                guard s > 0, s.isFinite else {
                    throw LinearAlgebraError.invalidArgument(
                        operation: "LowRankPlusDiagonal.solve",
                        message: "diagonal + damping must be positive, but d[\(i)] + λ = \(given[i]) + \(damping) = \(s)")
                }
                inverse[i] = 1 / s
            }
            inverseDiagonal = inverse
        }
        self.damping = damping
        self.diagonal = shifted
        self.factor = factor
        self.rank = m
        self.columnScale = c
        if let factored {
            self.capacitance = factored
        } else if let capacitance {
            precondition(capacitance.rows == m && capacitance.columns == m, "Woodbury: capacitance shape")
            self.capacitance = try CholeskyFactorization(capacitance)
        } else {
            self.capacitance = try CholeskyFactorization(
                Self.buildCapacitance(factor: factor, columns: m, columnScale: c, diagonal: shifted,
                                      inverseDiagonal: inverseDiagonal))
        }
    }

    /// `C = I + c² Mᵀ D⁻¹ M` for the leading k columns of M and a positive diagonal D, by
    /// blocked `dsyrk` over the rows of M scaled by `c·D^{-1/2}` (no p×k temporary).
    ///
    /// With a distributed `shard`, M and D are this rank's rows and
    /// `C = I + Σ_ranks c² M_rᵀ D_r⁻¹ M_r`: the local parts (without I) are summed by one
    /// allreduce of k² doubles, so every rank returns the same matrix.
    /// - Complexity: p·k² flops (p the local rows), plus the allreduce.
    public static func capacitance(factor: Matrix, columns k: Int, columnScale c: Double, diagonal: Diagonal,
                                   shard: RowShard? = nil) throws -> Matrix {
        let inverse = diagonal.uniformValue == nil ? diagonal.entries.map { 1 / $0 } : []
        guard let shard, shard.isDistributed else {
            return try buildCapacitance(factor: factor, columns: k, columnScale: c, diagonal: diagonal,
                                        inverseDiagonal: inverse)
        }
        var sum = try buildCapacitance(factor: factor, columns: k, columnScale: c, diagonal: diagonal,
                                       inverseDiagonal: inverse, identity: false)
        try shard.communicator.allreduceSum(&sum.storage)
        for i in 0..<k { sum[i, i] += 1 }
        return sum
    }

    /// `identity: false` leaves out the I (a rank's part of a sharded capacitance).
    static func buildCapacitance(factor: Matrix, columns k: Int, columnScale c: Double, diagonal: Diagonal,
                                 inverseDiagonal: [Double], identity: Bool = true) throws -> Matrix {
        let p = factor.rows
        var capacitance = identity ? Matrix.identity(k) : Matrix(rows: k, columns: k)
        guard k > 0, p > 0 else { return capacitance }
        let ki = try lapackInt(k, "Woodbury capacitance")
        _ = try lapackInt(p, "Woodbury capacitance")
        let block = Swift.min(Self.rowBlock, p)
        var scratch = [Double](repeating: 0, count: block * k)
        // c·D^{-1/2}, once: p square roots rather than p·k (one for a uniform D).
        let uniformRoot = diagonal.uniformValue.map { c / $0.squareRoot() }
        let rootInverse = uniformRoot == nil ? inverseDiagonal.map { c * $0.squareRoot() } : []
        factor.storage.withUnsafeBufferPointer { u in
            rootInverse.withUnsafeBufferPointer { root in
                scratch.withUnsafeMutableBufferPointer { w in
                    capacitance.storage.withUnsafeMutableBufferPointer { cp in
                        var start = 0
                        while start < p {
                            let rows = Swift.min(block, p - start)
                            // w[:, j] = c·D^{-1/2} M[start..<start+rows, j]
                            for j in 0..<k {
                                let src = u.baseAddress! + j * p + start
                                let dst = w.baseAddress! + j * rows
                                if let uniformRoot {
                                    for i in 0..<rows { dst[i] = src[i] * uniformRoot }
                                } else {
                                    for i in 0..<rows { dst[i] = src[i] * root[start + i] }
                                }
                            }
                            cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, ki, Int32(rows), 1,
                                        w.baseAddress, Int32(rows), 1, cp.baseAddress, ki)
                            start += rows
                        }
                    }
                }
            }
        }
        capacitance.symmetrizeFromLower()
        return capacitance
    }

    /// `A v`, the operator this factorisation inverts.
    /// - Complexity: two passes over M (4pm flops).
    public func apply(_ v: [Double], into y: inout [Double]) throws {
        try requireLength(v, dimension, "Woodbury.apply", "v")
        try requireLength(y, dimension, "Woodbury.apply", "y")
        var t = [Double](repeating: 0, count: rank)
        try BLAS.gemv(.transpose, factor, columns: 0..<rank, v, &t)
        if shard.isDistributed { try shard.communicator.allreduceSum(&t) }
        for i in 0..<dimension { y[i] = diagonal[i] * v[i] }
        try BLAS.gemv(.none, alpha: columnScale * columnScale, factor, columns: 0..<rank, t, beta: 1, &y)
    }

    /// `A⁻¹ v`, optionally followed by `refinementSteps` steps of iterative refinement
    /// (`r = v − A x; x += A⁻¹ r`), which restores backward stability when `C` is
    /// ill-conditioned at the price of two more passes over M per step.
    /// - Throws: `dimensionMismatch`, `nonFinite` for a bad `v`; `invalidArgument` for
    ///   `refinementSteps < 0`.
    /// - Complexity: two passes over M (4pm flops, 16pm bytes) plus 2m² for `dpotrs` and
    ///   three length-p passes; memory-bound.
    public func solve(_ v: [Double], refinementSteps: Int = 0) throws -> [Double] {
        try Self.requireRefinementSteps(refinementSteps)
        try requireLength(v, dimension, "LowRankPlusDiagonal.solve", "right-hand side")
        try requireFinite(v, "LowRankPlusDiagonal.solve", "right-hand side")
        var x = Self.uninitialized(count: dimension)
        var t = [Double](repeating: 0, count: rank)
        try solveUnchecked(v, into: &x, scratch: &t)
        if refinementSteps > 0 {
            var r = [Double](repeating: 0, count: dimension)
            var dx = [Double](repeating: 0, count: dimension)
            for _ in 0..<refinementSteps {
                try apply(x, into: &r)
                BLAS.scale(&r, by: -1)
                BLAS.axpy(1, v, &r)                      // r = v − A x
                try solveUnchecked(r, into: &dx, scratch: &t)
                BLAS.axpy(1, dx, &x)
            }
        }
        return x
    }

    /// Checks a count of refinement steps: 0 or more.
    static func requireRefinementSteps(_ steps: Int) throws {
        guard steps >= 0 else {
            throw LinearAlgebraError.invalidArgument(
                operation: "LowRankPlusDiagonal.solve", message: "refinementSteps must be ≥ 0, got \(steps)")
        }
    }

    /// The Woodbury solve proper, with caller-owned output (length p) and scratch (length m).
    /// Inputs are assumed validated.
    /// - Complexity: two passes over M and 40p bytes of vector traffic (see
    ///   ``solveRowBlocked(_:into:columns:scratch:)``).
    public func solveUnchecked(_ v: [Double], into x: inout [Double], scratch t: inout [Double]) throws {
        precondition(v.count == dimension && x.count == dimension && t.count == rank, "solveUnchecked: sizes")
        try v.withUnsafeBufferPointer { vp in
            try x.withUnsafeMutableBufferPointer { xp in
                try t.withUnsafeMutableBufferPointer { tp in
                    try solveRowBlocked(vp, into: xp, columns: 1, scratch: tp)
                }
            }
        }
    }

    /// `A⁻¹ V` for a p×r block of right-hand sides: the same two passes over M as one solve, with
    /// one `gemv` per column on each row block of M while that block is in cache. Measured at
    /// p = 10⁶, k = 16, one thread: 66 ms for r = 8 against 8 × 11.5 ms for single solves; a
    /// `gemm` per row block instead measured the same.
    /// - Complexity: 4pmr flops, 16pm + 40pr bytes.
    public func solve(block v: Matrix) throws -> Matrix {
        try requireBlock(v, rows: dimension, "LowRankPlusDiagonal.solve(block:)", "right-hand sides")
        let p = dimension, r = v.columns
        if r == 0 || p == 0 { return v }
        var x = try Matrix(rows: p, columns: r, storage: Self.uninitialized(count: p * r))
        var t = [Double](repeating: 0, count: rank * r)
        try v.storage.withUnsafeBufferPointer { vp in
            try x.storage.withUnsafeMutableBufferPointer { xp in
                try t.withUnsafeMutableBufferPointer { tp in
                    try solveRowBlocked(vp, into: xp, columns: r, scratch: tp)
                }
            }
        }
        return x
    }

    /// An array of `count` doubles whose contents will all be overwritten (skips the zero fill,
    /// one write pass over the output).
    static func uninitialized(count: Int) -> [Double] {
        [Double](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// Rows per block in ``solveRowBlocked(_:into:columns:scratch:)``: the rows×r scratch block
    /// (≤ 256 KiB) stays in the per-core L2 cache while M's rows stream past it.
    static func solveRowBlock(columns r: Int, rank k: Int) -> Int {
        r == 1 ? 32_768 : Swift.max(256, 65_536 / Swift.max(1, k))
    }

    /// The Woodbury formula for r right-hand sides (p×r, column-major, leading dimension p),
    /// in two passes over row blocks of M so that no length-p temporary is formed:
    ///
    /// ```
    /// pass 1, per row block B:  Z_B = D⁻¹ V_B;   T += M_Bᵀ Z_B          (T = Mᵀ D⁻¹ V)
    ///         then              T ← C⁻¹ T                              (dpotrs, m×r)
    /// pass 2, per row block B:  Y_B = M_B T;     X_B = D⁻¹ (V_B − c² Y_B)
    /// ```
    ///
    /// Memory traffic: M twice (16pm bytes), V and d⁻¹ twice and X once (40p bytes per
    /// right-hand side, counting d⁻¹ per column; 24p for a uniform D); `Z_B` and `Y_B` live in cache.
    func solveRowBlocked(
        _ v: UnsafeBufferPointer<Double>, into x: UnsafeMutableBufferPointer<Double>, columns r: Int,
        scratch t: UnsafeMutableBufferPointer<Double>
    ) throws {
        let p = dimension, k = rank
        if p == 0 || r == 0 { return }
        let uniform = diagonal.uniformValue.map { 1 / $0 }
        let c2 = columnScale * columnScale
        try inverseDiagonal.withUnsafeBufferPointer { dinvBuffer in
            let vb = v.baseAddress!, xb = x.baseAddress!
            // `scaleRows(dst, src, start, rows)`: dst[i] = src[i] · D⁻¹[start + i].
            func scaleRows(_ dst: UnsafeMutablePointer<Double>, _ src: UnsafePointer<Double>, _ start: Int, _ rows: Int) {
                if let uniform {
                    for i in 0..<rows { dst[i] = src[i] * uniform }
                } else {
                    let dinv = dinvBuffer.baseAddress! + start
                    for i in 0..<rows { dst[i] = src[i] * dinv[i] }
                }
            }
            if k == 0 {
                for j in 0..<r { scaleRows(xb + j * p, vb + j * p, 0, p) }
                return
            }
            let block = Swift.min(p, Self.solveRowBlock(columns: r, rank: k))
            let ki = try lapackInt(k, "Woodbury solve")
            let ldu = try lapackInt(p, "Woodbury solve")
            try withUnsafeTemporaryAllocation(of: Double.self, capacity: block * r) { scratchBuffer in
                let w = scratchBuffer.baseAddress!, tb = t.baseAddress!
                for i in 0..<(k * r) { tb[i] = 0 }
                factor.storage.withUnsafeBufferPointer { uBuffer in
                    let u = uBuffer.baseAddress!
                    var start = 0
                    while start < p {
                        let rows = Swift.min(block, p - start)
                        for j in 0..<r { scaleRows(w + j * rows, vb + start + j * p, start, rows) }
                        for j in 0..<r {
                            cblas_dgemv(CblasColMajor, CblasTrans, Int32(rows), ki, 1, u + start, ldu,
                                        w + j * rows, 1, 1, tb + j * k, 1)
                        }
                        start += rows
                    }
                }
                // Sharded: T is the sum of every rank's part (one allreduce of m·r doubles).
                if shard.isDistributed {
                    try shard.communicator.allreduceSum(UnsafeMutableBufferPointer(start: tb, count: k * r))
                }
                try capacitance.solve(UnsafeMutableBufferPointer(start: tb, count: k * r), columns: r)
                factor.storage.withUnsafeBufferPointer { uBuffer in
                    let u = uBuffer.baseAddress!
                    var start = 0
                    while start < p {
                        let rows = Swift.min(block, p - start)
                        for j in 0..<r {
                            // w = v − c² M_B t, then x = D⁻¹ w.
                            let y = w + j * rows
                            y.update(from: vb + start + j * p, count: rows)
                            cblas_dgemv(CblasColMajor, CblasNoTrans, Int32(rows), ki, -c2, u + start, ldu,
                                        tb + j * k, 1, 1, y, 1)
                            scaleRows(xb + start + j * p, y, start, rows)
                        }
                        start += rows
                    }
                }
            }
        }
    }

    /// Bytes held (the inverse diagonal and the Cholesky factor; M is shared with its owner).
    public var byteCount: Int {
        inverseDiagonal.count * 8 + capacitance.factor.byteCount
    }
}

/// Equal when built for the same damping from the same diagonal, factor columns, scale and
/// capacitance.
extension WoodburyFactorization: Equatable {}

extension WoodburyFactorization {
    /// `A⁻¹` as a ``LinearOperator`` (its `apply` is the Woodbury solve): the preconditioner
    /// form that ``ConjugateGradients`` takes.
    public var inverseOperator: WoodburyInverse { WoodburyInverse(factorization: self) }
}

/// `A⁻¹` of a ``WoodburyFactorization``, applied by its solve.
public struct WoodburyInverse: LinearOperator, Sendable {
    public let factorization: WoodburyFactorization
    public var dimension: Int { factorization.dimension }

    /// `y ← A⁻¹ v`.
    /// - Complexity: two passes over the factor.
    public func apply(_ v: [Double], into y: inout [Double]) throws {
        try requireLength(v, dimension, "WoodburyInverse.apply", "v")
        try requireLength(y, dimension, "WoodburyInverse.apply", "y")
        var t = [Double](repeating: 0, count: factorization.rank)
        try factorization.solveUnchecked(v, into: &y, scratch: &t)
    }
}
