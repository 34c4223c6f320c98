/// The symmetric operator `A = diag(d) + U Uᵀ` (p×p, `U` p×k), kept matrix-free.
///
/// This is the shape of every Fisher estimate in the library: a low-rank sketch `U Uᵀ` plus a
/// diagonal (the regulariser's exact curvature, diagonal compensation, damping). `A` is never
/// formed except on request (``materialized(maxBytes:)``, for tests and small p).
///
/// Solves use the Woodbury identity (ALGORITHMS.md §4) through a ``WoodburyFactorization``
/// that is cached and reused until `d`, `U` or the damping λ change; all mutation goes through
/// methods that validate first, so an operation that throws leaves the operator unchanged.
///
/// ```swift
/// var a = try LowRankPlusDiagonal(diagonal: d, factor: u)
/// let x = try a.solve(v, damping: 1e-3)        // (A + 1e-3 I)⁻¹ v
/// ```
public struct LowRankPlusDiagonal: Sendable, LinearOperator {
    /// `d`, length p. Entries may be zero or negative as long as `d + λ > 0` at solve time.
    public private(set) var diagonal: [Double]
    /// `U`, p×k.
    public private(set) var factor: Matrix
    /// The last factorisation built, keyed by its damping.
    private var cachedFactorization: WoodburyFactorization?

    /// Creates `diag(d) + U Uᵀ`.
    /// - Throws: `dimensionMismatch` when `U` does not have `d.count` rows, `nonFinite` for NaN/∞.
    public init(diagonal: [Double], factor: Matrix) throws {
        try Self.validate(diagonal: diagonal, factor: factor)
        self.diagonal = diagonal
        self.factor = factor
    }

    /// `diag(d)` alone (k = 0).
    public init(diagonal: [Double]) throws {
        try self.init(diagonal: diagonal, factor: Matrix(rows: diagonal.count, columns: 0))
    }

    private static func validate(diagonal: [Double], factor: Matrix) throws {
        guard factor.rows == diagonal.count else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "LowRankPlusDiagonal", expected: "U with \(diagonal.count) rows (the length of d)",
                actual: "U with \(factor.rows) rows")
        }
        try requireFinite(diagonal, "LowRankPlusDiagonal", "diagonal d")
        if let bad = factor.firstNonFiniteIndex {
            throw LinearAlgebraError.nonFinite(operation: "LowRankPlusDiagonal", argument: "factor U", index: bad)
        }
    }

    /// p.
    public var dimension: Int { diagonal.count }
    /// k, the number of columns of `U`.
    public var rank: Int { factor.columns }

    /// Replaces `d` and/or `U` (validated first; on error nothing changes) and drops the cache.
    public mutating func update(diagonal newDiagonal: [Double]? = nil, factor newFactor: Matrix? = nil) throws {
        let d = newDiagonal ?? diagonal, u = newFactor ?? factor
        try Self.validate(diagonal: d, factor: u)
        diagonal = d
        factor = u
        cachedFactorization = nil
    }

    /// `y ← A v` with caller-owned `y`.
    /// - Complexity: two passes over `U` (4pk flops) and one over `d`.
    public func apply(_ v: [Double], into y: inout [Double]) throws {
        try requireApplyArguments(v, y, dimension, "LowRankPlusDiagonal.apply")
        var t = [Double](repeating: 0, count: rank)
        try BLAS.gemv(.transpose, factor, v, &t)
        for i in 0..<dimension { y[i] = diagonal[i] * v[i] }
        try BLAS.gemv(.none, factor, t, beta: 1, &y)
    }

    /// `A V` for a p×m block (two `gemm`s).
    public func apply(block v: Matrix) throws -> Matrix {
        try requireBlock(v, rows: dimension, "LowRankPlusDiagonal.apply(block:)", "V")
        let p = dimension, m = v.columns
        var t = Matrix(rows: rank, columns: m)
        try BLAS.gemm(.transpose, .none, factor, v, &t)
        var y = v
        y.storage.withUnsafeMutableBufferPointer { yp in
            for j in 0..<m { for i in 0..<p { yp[i + j * p] *= diagonal[i] } }
        }
        try BLAS.gemm(.none, .none, factor, t, beta: 1, &y)
        return y
    }

    /// The Woodbury factorisation of `A + λI`, without touching the cache.
    /// - Throws: `invalidArgument` if some `dᵢ + λ ≤ 0` or λ is negative or not finite.
    public func factorized(damping: Double = 0) throws -> WoodburyFactorization {
        guard damping >= 0, damping.isFinite else {
            throw LinearAlgebraError.invalidArgument(
                operation: "LowRankPlusDiagonal.solve", message: "damping must be finite and ≥ 0, got \(damping)")
        }
        return try WoodburyFactorization(diagonal: diagonal, factor: factor, damping: damping)
    }

    /// The cached factorisation for λ, building it if needed.
    public mutating func factorization(damping: Double = 0) throws -> WoodburyFactorization {
        if let cached = cachedFactorization, cached.damping == damping { return cached }
        let built = try factorized(damping: damping)
        cachedFactorization = built
        return built
    }

    /// `(A + λI)⁻¹ v` by Woodbury, reusing the cached factorisation when λ is unchanged.
    /// - Parameter refinementSteps: steps of iterative refinement (0 or 1 is typical); a
    ///   negative count is `invalidArgument`, checked before the factorisation is built or cached.
    /// - Complexity: first call for a λ: p·k² + k³/3 flops; every call: two passes over `U`.
    public mutating func solve(_ v: [Double], damping: Double = 0, refinementSteps: Int = 0) throws -> [Double] {
        try WoodburyFactorization.requireRefinementSteps(refinementSteps)
        try requireLength(v, dimension, "LowRankPlusDiagonal.solve", "right-hand side")
        try requireFinite(v, "LowRankPlusDiagonal.solve", "right-hand side")
        return try factorization(damping: damping).solve(v, refinementSteps: refinementSteps)
    }

    /// `(A + λI)⁻¹ V` for a p×m block of right-hand sides.
    public mutating func solve(block v: Matrix, damping: Double = 0) throws -> Matrix {
        try requireBlock(v, rows: dimension, "LowRankPlusDiagonal.solve(block:)", "right-hand sides")
        return try factorization(damping: damping).solve(block: v)
    }

    /// Bytes held: `d`, `U` and the cached factorisation, if any.
    public var byteCount: Int {
        diagonal.count * 8 + factor.byteCount + (cachedFactorization?.byteCount ?? 0)
    }

    /// The dense p×p matrix `diag(d) + U Uᵀ` (for tests and small p).
    /// - Throws: `tooLargeToMaterialize` when p²·8 bytes exceed `maxBytes` (default 512 MiB).
    public func materialized(maxBytes: Int = 512 << 20) throws -> Matrix {
        let p = dimension
        let (bytes, overflow) = p.multipliedReportingOverflow(by: p * 8)
        guard !overflow, bytes <= maxBytes else {
            throw LinearAlgebraError.tooLargeToMaterialize(
                dimension: p, bytesNeeded: overflow ? Int.max : bytes, bytesAllowed: maxBytes)
        }
        var a = Matrix(rows: p, columns: p)
        try BLAS.syrk(.none, factor, &a)
        for i in 0..<p { a[i, i] += diagonal[i] }
        return a
    }
}

/// Equal when `d`, `U` and the cached factorisation (if any) are: so a comparison before and
/// after a failed call checks that nothing at all changed.
extension LowRankPlusDiagonal: Equatable {}
