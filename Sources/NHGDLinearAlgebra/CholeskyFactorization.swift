import Foundation
internal import CLAPACK

/// The Cholesky factorisation `A = L Lᵀ` of a symmetric positive-definite matrix (LAPACK
/// `dpotrf`), and solves with it (`dpotrs`).
///
/// Eigen-style: a factorisation is an object that exists only if it succeeded, so solving with
/// a failed one cannot happen. Only the lower triangle of the input is read.
public struct CholeskyFactorization: Sendable {
    /// The factor `L` in the lower triangle (the strict upper triangle holds input values).
    public let factor: Matrix

    /// Factors `a`.
    /// - Throws: ``LinearAlgebraError/notPositiveDefinite(routine:minor:)`` naming the leading
    ///   minor that failed, `dimensionMismatch` for a non-square input, `nonFinite` for NaN/∞.
    /// - Complexity: n³/3 flops.
    public init(_ a: Matrix) throws {
        try requireSquareFinite(a, "dpotrf")
        var l = a
        let n = try lapackInt(a.rows, "dpotrf")
        if n > 0 {
            let info = l.storage.withUnsafeMutableBufferPointer { lp in
                LAPACKE_dpotrf(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), n, lp.baseAddress, n)
            }
            try checkInfo(info, routine: "dpotrf") { .notPositiveDefinite(routine: "dpotrf", minor: $0) }
        }
        factor = l
    }

    /// Wraps a factor computed elsewhere (rank 0's, broadcast; see `RootComputation.swift`).
    init(factor: Matrix) {
        self.factor = factor
    }

    /// Order of the factored matrix.
    public var dimension: Int { factor.rows }

    /// Solves `A X = B` in place for every column of `b`.
    /// - Complexity: 2n² flops per right-hand side.
    public func solve(_ b: inout Matrix) throws {
        guard b.rows == dimension else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "dpotrs", expected: "\(dimension) rows", actual: "\(b.rows) rows")
        }
        if dimension == 0 || b.columns == 0 { return }
        let n = try lapackInt(dimension, "dpotrs"), nrhs = try lapackInt(b.columns, "dpotrs")
        let info = factor.storage.withUnsafeBufferPointer { lp in
            b.storage.withUnsafeMutableBufferPointer { bp in
                LAPACKE_dpotrs(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), n, nrhs, lp.baseAddress, n,
                               bp.baseAddress, n)
            }
        }
        try checkInfo(info, routine: "dpotrs") { _ in .illegalArgument(routine: "dpotrs", position: 0) }
    }

    /// Solves `A x = b` in place for one vector.
    public func solve(_ b: inout [Double]) throws {
        guard b.count == dimension else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "dpotrs", expected: "length \(dimension)", actual: "length \(b.count)")
        }
        if dimension == 0 { return }
        let n = try lapackInt(dimension, "dpotrs")
        let info = factor.storage.withUnsafeBufferPointer { lp in
            b.withUnsafeMutableBufferPointer { bp in
                LAPACKE_dpotrs(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), n, 1, lp.baseAddress, n,
                               bp.baseAddress, n)
            }
        }
        try checkInfo(info, routine: "dpotrs") { _ in .illegalArgument(routine: "dpotrs", position: 0) }
    }

    /// Solves `A X = B` in place for an n×m column-major buffer (leading dimension n), for
    /// callers that keep right-hand sides in scratch memory.
    func solve(_ b: UnsafeMutableBufferPointer<Double>, columns m: Int) throws {
        precondition(b.count == dimension * m, "dpotrs: buffer size")
        if dimension == 0 || m == 0 { return }
        let n = try lapackInt(dimension, "dpotrs"), nrhs = try lapackInt(m, "dpotrs")
        let info = factor.storage.withUnsafeBufferPointer { lp in
            LAPACKE_dpotrs(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), n, nrhs, lp.baseAddress, n, b.baseAddress, n)
        }
        try checkInfo(info, routine: "dpotrs") { _ in .illegalArgument(routine: "dpotrs", position: 0) }
    }

    /// `log det A = 2 Σ log Lᵢᵢ`.
    public var logDeterminant: Double {
        (0..<dimension).reduce(0) { $0 + 2 * log(factor[$1, $1]) }
    }
}

/// Two factorisations are equal when their factors are (used to check that failed operations
/// leave state unchanged).
extension CholeskyFactorization: Equatable {}
