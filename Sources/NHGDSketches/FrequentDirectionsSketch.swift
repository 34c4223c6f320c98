import NHGDLinearAlgebra

/// A Frequent Directions sketch of the empirical Fisher: a p×ℓ factor `B` (plus up to ℓ
/// not-yet-shrunk columns) with `BBᵀ ≈ F`, and optional diagonal compensation
/// (Liberty 2013; Ghashami, Liberty, Phillips, Woodruff, SIAM J. Comput. 2016; Luo et al.,
/// JMLR 2019; ALGORITHMS.md §5).
///
/// The rows of the stream are the scaled gradients `aᵢ = √(β wᵢ / b)·gᵢ`, and forgetting
/// scales everything held so far by `√(1 − β)` (the shrunk mass Δ by `1 − β`), so the sketch
/// summarises `A` with `AᵀA = F = Σ_t (decay)·(β/b) Σᵢ wᵢ gᵢgᵢᵀ`. The buffer holds 2ℓ
/// columns; when it is full it is shrunk to ℓ: with `λ₁ ≥ … ≥ λ_{2ℓ}` the squared singular
/// values of the buffer and `δ = λ_{ℓ+1}`, direction i is kept with squared length `λᵢ − δ`.
/// With `Δ = Σ δ` over all shrinks (decayed):
///
/// ```
/// 0 ⪯ AᵀA − BᵀB ⪯ Δ·I,      ‖A‖_F² − ‖B‖_F² ≥ (ℓ + 1)·Δ,
/// ‖AᵀA − BᵀB‖₂ ≤ ‖A − A_k‖_F² / (ℓ + 1 − k)   for every k ≤ ℓ,
/// ```
///
/// (δ = λ_{ℓ+1} keeps ℓ non-zero directions, which is textbook FD with ℓ + 1 rows, so the
/// bounds are those of the textbook with ℓ + 1 and imply the ones stated with ℓ). The sketch
/// is exact while at most ℓ gradients have arrived.
///
/// ```swift
/// var sketch = try FrequentDirectionsSketch(dimension: p, rank: 64, compensation: .scalar)
/// try sketch.ingest(gradients, weights: nil, forgetting: 0.1)      // p×b block
/// var fisher = try sketch.lowRankPlusDiagonal(adding: regulariserCurvature)
/// let u = try fisher.solve(v, damping: λ)                           // Woodbury
/// ```
///
/// Memory: the p×2ℓ buffer, plus p doubles for `.residualDiagonal`, plus row-panel scratch of
/// at most p doubles (for p ≥ 192ℓ): within the `(2ℓ + 2)·p·8`-byte budget. In steady state an ingest
/// allocates nothing p-sized (the `.svd` shrink does: it is the reference method).
///
/// **Sharded across ranks** (``init(shard:rank:compensation:shrinkMethod:)``, ALGORITHMS.md §8):
/// each rank of a ``Communicator`` holds its ``RowShard`` of the buffer's rows (and of the
/// tracked diagonal), so memory per rank is ∝ p/R, and every rank is handed its rows of each
/// block. What needs all p rows is a sum of per-rank parts: column norms (one allreduce of 2s
/// doubles per ingest), the Gram matrix's new entries (one allreduce of m·j for the j columns
/// ingested since the last shrink or solve, when one of them borders it; k² per
/// re-orthogonalising shrink), and a non-uniform capacitance. The shrink's eigendecomposition
/// and the capacitance's Cholesky factor are computed once, on rank 0, and broadcast, so ranks
/// cannot drift apart by rounding; rotations and forgetting are local. The one-process sketch
/// is the case R = 1 (``RowShard/whole(_:)``), which calls no collective. ``dimension`` is the
/// number of rows this rank holds; all ranks must make the same calls with the same column
/// ranges and β (the collectives' rule).
public struct FrequentDirectionsSketch: MergeableFisherSketch, Equatable {
    /// The rows this sketch holds: p (the local rows of a sharded sketch).
    public let dimension: Int
    /// Which rows of the p-dimensional sketch these are, and the ranks that hold the others.
    public let shard: RowShard
    /// ℓ, the number of directions kept after a shrink.
    public let rank: Int
    /// What is added to the diagonal for the shrunk mass.
    public let compensation: DiagonalCompensation
    /// How the buffer is shrunk.
    public let shrinkMethod: ShrinkMethod

    /// The buffer: `columnScale · buffer[:, 0..<filledColumns]` is the current `B` (p×m).
    var buffer: Matrix
    /// m, the number of columns of `buffer` in use (≤ 2ℓ).
    public internal(set) var filledColumns: Int = 0
    /// The leading columns that are (to rounding) orthogonal, left by the last shrink.
    var keptColumns: Int = 0
    /// Squared norms of the kept columns, in stored (unscaled) units.
    var keptSquaredNorms: [Double] = []
    /// c: `B = c · buffer`. Forgetting multiplies c by √(1 − β) in O(1) instead of scaling
    /// the whole buffer; shrinks fold c back into the columns.
    var columnScale: Double = 1
    /// Δ, the decayed sum of the shrink thresholds δ.
    public internal(set) var shrunkMass: Double = 0
    /// A first-order bound on what rounding added to `‖F − F̂‖₂`, decayed like Δ: per ingested
    /// column `(2ℓ + 4)·ε‖a‖²` (storing `a/c` and any product over the buffer's 2ℓ columns:
    /// the Woodbury algebra, a materialisation), per shrink `(p + 6m + 16)·ε·tr(c²MᵀM)` (the
    /// Gram matrix's `p·ε`, the eigendecomposition's backward error and the rotation's gemm).
    /// Part of ``spectralErrorBound``, so the bound holds for computed sketches too (an exact
    /// sketch reported 7e-18 against a measured 1.5e-15).
    public internal(set) var roundingAllowance: Double = 0
    /// `diag(AᵀA)`, tracked exactly for `.residualDiagonal` (empty otherwise).
    var exactDiagonal: [Double]
    public internal(set) var ingestedCount: Int = 0
    /// Shrinks since creation or `reset`.
    public internal(set) var shrinkCount: Int = 0
    /// Structured-Gram shrinks since the last full-Gram one (`.gramTrick` only).
    var shrinksSinceFullGram: Int = 0
    /// Row-panel scratch for the Gram-trick rotation: `panelRows × 2ℓ` in, `panelRows × ℓ` out.
    var panelIn: Matrix
    var panelOut: Matrix
    /// `MᵀM` of the buffer's columns `0..<gramColumns`, in stored units (2ℓ×2ℓ, the leading
    /// block used): bordered with the columns appended since, in one gemm, when a shrink or a
    /// solve needs it (see `FrequentDirectionsSketch+Gram.swift`), it is the shrink's Gram
    /// matrix and, for a uniform diagonal, the solve's capacitance.
    var gram: Matrix
    /// The columns `gram` covers.
    var gramColumns = 0
    /// Incremented by every change of state; keys ``capacitanceCache``.
    var version = 0
    /// The last capacitance factor and what it was built for.
    var capacitanceCache: CapacitanceCache?

    /// Creates an empty sketch.
    /// - Parameters:
    ///   - dimension: p ≥ 1.
    ///   - rank: ℓ ≥ 1, the number of directions kept.
    ///   - compensation: diagonal compensation (default none).
    ///   - shrinkMethod: `.gramTrick` (default) or `.svd`.
    /// - Throws: `invalidArgument` for a non-positive size or interval;
    ///   `tooLargeToMaterialize` when the p×2ℓ buffer's byte count overflows.
    public init(
        dimension: Int, rank: Int, compensation: DiagonalCompensation = .none, shrinkMethod: ShrinkMethod = .gramTrick
    ) throws {
        try requirePositive(dimension, "dimension", "FrequentDirectionsSketch.init")
        try self.init(shard: .whole(dimension), rank: rank, compensation: compensation, shrinkMethod: shrinkMethod)
    }

    /// Creates an empty sketch of which this rank holds the rows `shard.rows` (see the type's
    /// notes on sharding). Every rank of `shard.communicator` must create its part with the
    /// same p, rank and options.
    /// - Throws: as ``init(dimension:rank:compensation:shrinkMethod:)``; `invalidArgument` for
    ///   the `.svd` shrink with more than one rank (it needs all rows of the buffer at once).
    public init(
        shard: RowShard, rank: Int, compensation: DiagonalCompensation = .none, shrinkMethod: ShrinkMethod = .gramTrick
    ) throws {
        let op = "FrequentDirectionsSketch.init"
        let dimension = shard.localDimension
        try requirePositive(dimension, "dimension", op)
        try requirePositive(rank, "rank", op)
        if shard.isDistributed, shrinkMethod == .svd {
            throw LinearAlgebraError.invalidArgument(
                operation: op, message: "the .svd shrink needs the whole buffer on one rank; use .gramTrick when sharded")
        }
        if case let .gramTrick(interval) = shrinkMethod { try requirePositive(interval, "reorthogonalizationInterval", op) }
        let (elements, overflow) = dimension.multipliedReportingOverflow(by: 2 * rank)
        guard !overflow, elements <= Int.max / 8 else {
            throw LinearAlgebraError.tooLargeToMaterialize(dimension: dimension, bytesNeeded: Int.max, bytesAllowed: Int.max)
        }
        self.dimension = dimension
        self.shard = shard
        self.rank = rank
        self.compensation = compensation
        self.shrinkMethod = shrinkMethod
        buffer = Matrix(rows: dimension, columns: 2 * rank)
        gram = Matrix(rows: 2 * rank, columns: 2 * rank)
        exactDiagonal = compensation == .residualDiagonal ? [Double](repeating: 0, count: dimension) : []
        let rows = Self.panelRows(dimension: dimension, rank: rank)
        if case .gramTrick = shrinkMethod {
            panelIn = Matrix(rows: rows, columns: 2 * rank)
            panelOut = Matrix(rows: rows, columns: rank)
        } else {
            panelIn = Matrix(rows: 0, columns: 0)
            panelOut = Matrix(rows: 0, columns: 0)
        }
    }

    /// Rows per panel of the rotation: the panels (`rows × 3ℓ` doubles) take at most p doubles,
    /// keeping the sketch within `(2ℓ + 2)·p` doubles, capped at 4096 rows (larger panels gained
    /// nothing when measured) and at least 64 rows so each gemm call has enough work.
    static func panelRows(dimension: Int, rank: Int) -> Int {
        min(dimension, max(64, min(4096, dimension / (3 * rank))))
    }

    // MARK: FisherSketch

    /// The largest column norm an ingest accepts, 2^450 ≈ 2.9·10¹³⁵: its square, 2^900, times the
    /// 2ℓ columns of any Gram entry or trace, and the sums of a shrink, stay far below the
    /// largest finite double (2^1024). Larger columns (an entry of 1e150 or 1e300) are refused
    /// with a typed error before anything changes; tiny ones (1e−300) are accepted, their
    /// squares underflowing to zero as their contribution to F does.
    public static let largestColumnNorm = 0x1p450

    /// Folds pre-scaled columns into the sketch (see ``FisherSketch/ingest(_:columns:forgetting:)``):
    /// forgetting, then the columns are appended (columns that are exactly zero are left out:
    /// they add nothing to F, and in the buffer they would take a slot and could leave a
    /// rounding-level direction behind after a shrink, raising Δ for nothing), with a shrink
    /// whenever the buffer is full.
    /// - Complexity: O(p·s) to append s columns, plus a shrink (≈ 7pℓ² flops for the Gram
    ///   trick) every ℓ appended columns: amortised O(pℓ) per column.
    public mutating func ingest(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws {
        // Validated on every rank, and (sharded) agreed: norms and zero columns over all rows.
        let summary = try columnSummary(block, columns: columns, forgetting: beta,
                                        operation: "FrequentDirectionsSketch.ingest")
        // Every Gram entry, eigenvalue and diagonal the sketch forms from a column is bounded by
        // its squared norm times the buffer's width: refuse, before anything changes, a column
        // whose squared norm would leave no headroom (an entry of 1e200 made dsyevd fail after
        // the buffer had changed).
        var largest = 0.0, mass = 0.0
        for norm in summary.norms {
            largest = max(largest, norm)
            mass += norm * norm
        }
        guard largest <= Self.largestColumnNorm else {
            throw LinearAlgebraError.invalidArgument(
                operation: "FrequentDirectionsSketch.ingest",
                message: "a column of norm \(largest) is beyond the \(Self.largestColumnNorm) the sketch can square "
                    + "without overflow; rescale the gradients (the sketch is unchanged)")
        }
        applyForgetting(beta)
        roundingAllowance += Double(2 * rank + 4) * Double.ulpOfOne * mass
        // Stored columns are a / c: fold c in first if that would take them past the same limit.
        if largest / columnScale > Self.largestColumnNorm { foldColumnScale() }
        for (n, j) in columns.enumerated() where summary.nonzero[n] {
            if filledColumns == 2 * rank { try shrink() }
            if compensation == .residualDiagonal {
                var diagonal = exactDiagonal   // moved out and back: no copy, no overlapping access
                exactDiagonal = []
                diagonal.withUnsafeMutableBufferPointer { d in
                    copyColumn(j, of: block, multiplier: 1 / columnScale, into: &buffer, at: filledColumns,
                               squaresInto: d, squareWeight: columnScale * columnScale)
                }
                exactDiagonal = diagonal
            } else {
                copyColumn(j, of: block, multiplier: 1 / columnScale, into: &buffer, at: filledColumns)
            }
            filledColumns += 1
        }
        ingestedCount += columns.count
        version += 1
        _checkInvariants()
    }

    public mutating func reset() {
        empty()
        ingestedCount = 0
        shrinkCount = 0
        version += 1
    }

    /// No columns, no shrunk mass, c = 1 (the state of `reset` and of β = 1).
    mutating func empty() {
        filledColumns = 0
        keptColumns = 0
        gramColumns = 0
        keptSquaredNorms.removeAll(keepingCapacity: true)
        columnScale = 1
        shrunkMass = 0
        roundingAllowance = 0
        shrinksSinceFullGram = 0
        capacitanceCache = nil
        if !exactDiagonal.isEmpty { BLAS.scale(&exactDiagonal, by: 0) }
    }

    /// `diag(d) + U Uᵀ` with `U = B` (all m ≤ 2ℓ buffered columns, so nothing more is lost) and
    /// `d = extraDiagonal + compensation` (see `compensated(_:)`): a copy, for references and
    /// tests; solves read the buffer in place through ``inverse(adding:damping:)``. Sharded,
    /// this rank's rows of U and d (gather them for the whole operator).
    /// - Complexity: O(p·m) (a copy of the buffer).
    public func lowRankPlusDiagonal(adding extraDiagonal: [Double]?) throws -> LowRankPlusDiagonal {
        let d = try validatedExtraDiagonal(extraDiagonal, dimension: dimension,
                                           operation: "FrequentDirectionsSketch.lowRankPlusDiagonal")
        var u = buffer.leadingColumns(filledColumns)
        BLAS.scale(&u.storage, by: columnScale)
        return try LowRankPlusDiagonal(diagonal: compensated(Diagonal(entries: d)).entries, factor: u)
    }

    /// Δ for `.none` and `.residualDiagonal`, Δ/2 for `.scalar` (see ``DiagonalCompensation``).
    public var spectralErrorBound: Double {
        (compensation == .scalar ? shrunkMass / 2 : shrunkMass) + roundingAllowance
    }

    public var byteCount: Int {
        buffer.byteCount + exactDiagonal.count * 8 + keptSquaredNorms.capacity * 8
            + panelIn.byteCount + panelOut.byteCount + gram.byteCount + (capacitanceCache?.byteCount ?? 0)
    }

    // MARK: Merging

    /// Replaces `self` with a sketch of both streams (`F̂ ≈ F_self + F_other`): the two
    /// buffers are compacted to at most ℓ columns each (a shrink where needed), stacked, and
    /// the shrunk masses and tracked diagonals add. Each shrink satisfies FD's per-shrink
    /// inequalities, so the bounds hold for the concatenated stream with Δ = Δ_self + Δ_other
    /// + the new thresholds (Ghashami et al. 2016, mergeability).
    /// - Throws: `dimensionMismatch` or `invalidArgument` when p, ℓ or the compensation differ.
    public mutating func merge(_ other: FrequentDirectionsSketch) throws {
        let op = "FrequentDirectionsSketch.merge"
        guard other.dimension == dimension, other.shard == shard else {
            throw LinearAlgebraError.dimensionMismatch(operation: op, expected: "dimension \(dimension)",
                                                       actual: "dimension \(other.dimension) (or another shard)")
        }
        guard other.rank == rank, other.compensation == compensation else {
            throw LinearAlgebraError.invalidArgument(
                operation: op, message: "sketches differ in configuration: rank \(rank) vs \(other.rank), "
                    + "compensation \(compensation) vs \(other.compensation)")
        }
        var incoming = other
        if incoming.filledColumns > rank { try incoming.shrink() }
        if filledColumns + incoming.filledColumns > 2 * rank { try shrink() }
        foldColumnScale()
        let count = incoming.filledColumns
        let nonzero = try nonzeroColumns(of: incoming.buffer, columns: 0..<count)
        for j in 0..<count where nonzero[j] {
            copyColumn(j, of: incoming.buffer, multiplier: incoming.columnScale, into: &buffer, at: filledColumns)
            filledColumns += 1
        }
        version += 1
        shrunkMass += incoming.shrunkMass
        roundingAllowance += incoming.roundingAllowance
        if compensation == .residualDiagonal { BLAS.axpy(1, incoming.exactDiagonal, &exactDiagonal) }
        ingestedCount += incoming.ingestedCount
        shrinkCount += incoming.shrinkCount
        _checkInvariants()
    }

    // MARK: Forgetting

    /// `F ← (1 − β) F`: O(1) on the buffer (through c), O(p) on the tracked diagonal. β = 1
    /// empties the sketch.
    mutating func applyForgetting(_ beta: Double) {
        if beta == 1 {
            empty()
            return
        }
        let keep = 1 - beta
        columnScale *= keep.squareRoot()
        shrunkMass *= keep
        roundingAllowance *= keep
        if !exactDiagonal.isEmpty { BLAS.scale(&exactDiagonal, by: keep) }
        // Far from underflow (c ≥ 2⁻⁴⁰⁰ keeps 1/c and c² finite), fold c into the columns.
        if columnScale < 0x1p-400 { foldColumnScale() }
    }

    /// Makes c = 1 by scaling the stored columns (and their Gram matrix): O(p·m).
    mutating func foldColumnScale() {
        if columnScale == 1 { return }
        let c = columnScale, count = dimension * filledColumns
        buffer.storage.withUnsafeMutableBufferPointer { s in
            for i in 0..<count { s[i] *= c }
        }
        for j in keptSquaredNorms.indices { keptSquaredNorms[j] *= c * c }
        BLAS.scale(&gram.storage, by: c * c)
        columnScale = 1
    }
}
