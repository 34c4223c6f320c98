internal import CMPI
internal import CMPIShim
import NHGDLinearAlgebra

/// A ``Communicator`` over an MPI communicator (Open MPI): the collectives of the sharded
/// sketch and solve, on doubles.
///
/// | collective | MPI calls | promise |
/// | --- | --- | --- |
/// | ``allreduceSum(_:)`` | `MPI_Reduce` to rank 0, then `MPI_Bcast` | every rank receives rank 0's sum, bit for bit |
/// | ``reduceScatterSum(_:counts:into:)`` | `MPI_Reduce_scatter` | each segment is summed once and received by one rank |
/// | ``allgather(_:counts:into:)`` | `MPI_Allgatherv` | |
/// | ``broadcast(_:root:)`` | `MPI_Bcast` | |
///
/// The allreduce is a reduce and a broadcast rather than `MPI_Allreduce` because the latter may
/// round differently on different ranks (the standard only advises against it), and the sharded
/// algorithms take decisions — which columns are zero, whether to rescale — from reduced values
/// that must agree everywhere. For the k- and k²-sized messages of the sketch both are
/// latency-bound, so the cost is a second latency.
///
/// Obtain the world communicator from ``MPIEnvironment/world()``.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    // `MPI_Comm` is a pointer to Open MPI's communicator object; it is used only through MPI
    // calls, which are thread-compatible for the MPI_THREAD_SINGLE use here (one thread calls).
    let handle: MPI_Comm?
    public let rank: Int
    public let size: Int

    init(handle: MPI_Comm?) throws(LinearAlgebraError) {
        self.handle = handle
        var r: Int32 = 0, s: Int32 = 0
        try MPIEnvironment.check(MPI_Comm_rank(handle, &r), "MPI_Comm_rank")
        try MPIEnvironment.check(MPI_Comm_size(handle, &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws(LinearAlgebraError) {
        let n = try count(buffer.count, "MPI_Reduce")
        if n == 0 { return }
        if size == 1 { return }
        var sum = [Double](repeating: 0, count: rank == 0 ? buffer.count : 0)
        let code = sum.withUnsafeMutableBufferPointer { s in
            MPI_Reduce(buffer.baseAddress, rank == 0 ? s.baseAddress : nil, n, nhgd_mpi_double(), nhgd_mpi_sum(), 0, handle)
        }
        try MPIEnvironment.check(code, "MPI_Reduce")
        if rank == 0 {
            sum.withUnsafeBufferPointer { s in buffer.baseAddress!.update(from: s.baseAddress!, count: buffer.count) }
        }
        try broadcast(buffer, root: 0)
    }

    public func reduceScatterSum(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError) {
        try requireCounts(counts, local: receive.count, operation: "MPI_Reduce_scatter")
        guard send.count == counts.reduce(0, +) else {
            throw .communication(operation: "MPI_Reduce_scatter", message: "send \(send.count) ≠ Σ counts \(counts)")
        }
        var recvCounts: [Int32] = []
        for c in counts { recvCounts.append(try count(c, "MPI_Reduce_scatter")) }
        let code = MPI_Reduce_scatter(send.baseAddress, receive.baseAddress, &recvCounts, nhgd_mpi_double(),
                                      nhgd_mpi_sum(), handle)
        try MPIEnvironment.check(code, "MPI_Reduce_scatter")
    }

    public func allgather(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError) {
        try requireCounts(counts, local: send.count, operation: "MPI_Allgatherv")
        guard receive.count == counts.reduce(0, +) else {
            throw .communication(operation: "MPI_Allgatherv", message: "receive \(receive.count) ≠ Σ counts \(counts)")
        }
        var recvCounts: [Int32] = [], displacements: [Int32] = []
        var offset = 0
        for c in counts {
            recvCounts.append(try count(c, "MPI_Allgatherv"))
            displacements.append(try count(offset, "MPI_Allgatherv"))
            offset += c
        }
        let n = try count(send.count, "MPI_Allgatherv")
        let code = MPI_Allgatherv(send.baseAddress, n, nhgd_mpi_double(), receive.baseAddress, &recvCounts,
                                  &displacements, nhgd_mpi_double(), handle)
        try MPIEnvironment.check(code, "MPI_Allgatherv")
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Double>, root: Int) throws(LinearAlgebraError) {
        guard (0..<size).contains(root) else {
            throw .communication(operation: "MPI_Bcast", message: "root \(root) outside 0..<\(size)")
        }
        let n = try count(buffer.count, "MPI_Bcast")
        if n == 0 || size == 1 { return }
        try MPIEnvironment.check(MPI_Bcast(buffer.baseAddress, n, nhgd_mpi_double(), Int32(root), handle), "MPI_Bcast")
    }

    public func barrier() throws(LinearAlgebraError) {
        try MPIEnvironment.check(MPI_Barrier(handle), "MPI_Barrier")
    }

    /// An element count as MPI's `int`.
    private func count(_ n: Int, _ call: String) throws(LinearAlgebraError) -> Int32 {
        guard let c = Int32(exactly: n) else {
            throw .communication(operation: call, message: "\(n) doubles exceed MPI's int count; split the message")
        }
        return c
    }
}
