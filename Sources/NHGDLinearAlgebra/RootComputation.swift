/// Computations done once, on rank 0, and broadcast: how a sharded algorithm keeps its ranks
/// from drifting apart by rounding. Two ranks that factor the same k×k matrix with different
/// BLAS kernels (or thread counts) can get different last bits, and FD's shrink would then
/// rotate their rows by different eigenvectors; broadcasting rank 0's result makes every rank
/// apply the same one, bit for bit.
extension Communicator {
    /// Runs `body` on rank 0 and returns its `count` doubles on every rank; `body` is not run
    /// elsewhere. A failure on rank 0 is broadcast too (a status word travels with the
    /// payload), so every rank throws instead of waiting: rank 0 rethrows its own error, the
    /// others a ``LinearAlgebraError/communication(operation:message:)`` naming `operation`.
    /// - Complexity: one broadcast of `count + 1` doubles.
    public func computedOnRoot(
        count: Int, operation: String, _ body: () throws -> [Double]
    ) throws -> [Double] {
        if !isDistributed { return try body() }
        var message = [Double](repeating: 0, count: count + 1)
        var failure: (any Error)?
        if rank == 0 {
            do {
                let result = try body()
                precondition(result.count == count, "computedOnRoot: \(operation) returned \(result.count) of \(count)")
                message[0] = 1
                message.withUnsafeMutableBufferPointer { m in
                    result.withUnsafeBufferPointer { r in
                        if count > 0 { (m.baseAddress! + 1).update(from: r.baseAddress!, count: count) }
                    }
                }
            } catch {
                failure = error
            }
        }
        try broadcast(&message, root: 0)
        if let failure { throw failure }
        guard message[0] == 1 else {
            throw LinearAlgebraError.communication(operation: operation, message: "failed on rank 0 (see its output)")
        }
        return Array(message[1...])
    }
}

extension CholeskyFactorization {
    /// Factors `a` on rank 0 of `communicator` and broadcasts the factor, so every rank solves
    /// with the same bits (see ``Communicator/computedOnRoot(count:operation:_:)``). With one
    /// rank this is ``init(_:)``.
    /// - Throws: as ``init(_:)`` on rank 0; `communication` on the other ranks when it failed there.
    public init(_ a: Matrix, factoredOnRootOf communicator: any Communicator) throws {
        if !communicator.isDistributed {
            try self.init(a)
            return
        }
        let n = a.rows
        let storage = try communicator.computedOnRoot(count: n * n, operation: "dpotrf") {
            try CholeskyFactorization(a).factor.storage
        }
        self.init(factor: try Matrix(rows: n, columns: n, storage: storage))
    }
}

extension SymmetricEigendecomposition {
    /// Decomposes `a` on rank 0 of `communicator` and broadcasts values and vectors (n + n²
    /// doubles). With one rank this is ``init(_:)``.
    /// - Throws: as ``init(_:)`` on rank 0; `communication` on the other ranks when it failed there.
    public init(_ a: Matrix, decomposedOnRootOf communicator: any Communicator) throws {
        if !communicator.isDistributed {
            try self.init(a)
            return
        }
        let n = a.rows
        let message = try communicator.computedOnRoot(count: n + n * n, operation: "dsyevd") {
            let e = try SymmetricEigendecomposition(a)
            return e.values + e.vectors.storage
        }
        self.init(values: Array(message[0..<n]), vectors: try Matrix(rows: n, columns: n, storage: Array(message[n...])))
    }
}
