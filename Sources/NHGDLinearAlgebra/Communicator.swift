/// The collective operations a computation sharded across processes needs, on buffers of
/// doubles: the seam between the numerical layers and a message-passing library (MPI).
///
/// The numerical modules talk to this protocol only, so they build and run without MPI:
/// ``SingleProcessCommunicator`` (one rank, every collective the identity) is the default, and
/// the MPI implementation lives in its own package (`Distributed/`, module `NHGDDistributed`).
///
/// Every rank of a group must call the same collectives in the same order with matching sizes
/// (MPI's rule); the sharded algorithms here are written so that every branch that precedes a
/// collective depends only on values that are identical on every rank.
///
/// **Identical results.** Implementations promise that every rank receives *bitwise the same*
/// result from ``allreduceSum(_:)`` and ``reduceScatterSum(_:counts:into:)`` (the MPI one reduces
/// to rank 0 and broadcasts, since `MPI_Allreduce` does not promise it), so decisions taken from
/// reduced values — a column's norm, whether it is zero — agree across ranks. Factorisations are
/// taken further: they are computed once, on rank 0, and broadcast
/// (``Communicator/computedOnRoot(count:operation:_:)``), so nodes with different BLAS kernels
/// cannot drift apart.
///
/// Errors are ``LinearAlgebraError/communication(operation:message:)``.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index, `0 ..< size`.
    var rank: Int { get }
    /// The number of processes in the group.
    var size: Int { get }

    /// `buffer ← Σ_ranks buffer`, elementwise, on every rank (`MPI_Allreduce` with `MPI_SUM`).
    /// - Complexity: one collective of `buffer.count` doubles.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws(LinearAlgebraError)

    /// `receive ← (Σ_ranks send)[offset_r ..< offset_r + counts[r]]` for this rank r, where
    /// `send` holds `Σ counts` doubles and the segments follow in rank order
    /// (`MPI_Reduce_scatter`): each rank receives only its rows of a summed block.
    /// - Complexity: one collective; each rank receives `counts[r]` doubles.
    func reduceScatterSum(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError)

    /// `receive ← [send of rank 0, send of rank 1, …]`, `counts[r]` doubles from rank r
    /// (`MPI_Allgatherv`).
    func allgather(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError)

    /// `buffer ← buffer of root` on every rank (`MPI_Bcast`).
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Double>, root: Int) throws(LinearAlgebraError)

    /// Returns once every rank has called it (`MPI_Barrier`).
    func barrier() throws(LinearAlgebraError)
}

extension Communicator {
    /// Whether more than one rank takes part (every collective is the identity otherwise).
    public var isDistributed: Bool { size > 1 }

    /// `x ← Σ_ranks x` (see ``allreduceSum(_:)``).
    public func allreduceSum(_ x: inout [Double]) throws(LinearAlgebraError) {
        try x.withUnsafeMutableBufferPointer { (b) throws(LinearAlgebraError) in try allreduceSum(b) }
    }

    /// `x ← x of root` (see ``broadcast(_:root:)``).
    public func broadcast(_ x: inout [Double], root: Int = 0) throws(LinearAlgebraError) {
        try x.withUnsafeMutableBufferPointer { (b) throws(LinearAlgebraError) in try broadcast(b, root: root) }
    }

    /// The concatenation of every rank's `local`, `counts[r]` doubles from rank r.
    public func allgather(_ local: [Double], counts: [Int]) throws(LinearAlgebraError) -> [Double] {
        try requireCounts(counts, local: local.count, operation: "allgather")
        var out = [Double](repeating: 0, count: counts.reduce(0, +))
        try local.withUnsafeBufferPointer { (s) throws(LinearAlgebraError) in
            try out.withUnsafeMutableBufferPointer { (r) throws(LinearAlgebraError) in
                try allgather(s, counts: counts, into: r)
            }
        }
        return out
    }

    /// This rank's segment of `Σ_ranks send` (see ``reduceScatterSum(_:counts:into:)``).
    public func reduceScatterSum(_ send: [Double], counts: [Int]) throws(LinearAlgebraError) -> [Double] {
        guard counts.count == size, send.count == counts.reduce(0, +) else {
            throw .communication(operation: "reduceScatterSum",
                                 message: "\(send.count) doubles do not split into the counts \(counts) of \(size) ranks")
        }
        var out = [Double](repeating: 0, count: counts[rank])
        try send.withUnsafeBufferPointer { (s) throws(LinearAlgebraError) in
            try out.withUnsafeMutableBufferPointer { (r) throws(LinearAlgebraError) in
                try reduceScatterSum(s, counts: counts, into: r)
            }
        }
        return out
    }

    /// Throws unless `counts` has one entry per rank and this rank's is `local`.
    public func requireCounts(_ counts: [Int], local: Int, operation: String) throws(LinearAlgebraError) {
        guard counts.count == size, counts[rank] == local, counts.allSatisfy({ $0 >= 0 }) else {
            throw .communication(operation: operation,
                                 message: "counts \(counts) do not match \(size) ranks with \(local) doubles on rank \(rank)")
        }
    }
}
