/// The one-rank ``Communicator``: `rank 0` of a group of size 1, every collective the identity
/// (a sum over one rank, a broadcast from itself). The default of every sharded type, which
/// with it is exactly its one-process version: no collective is called.
public final class SingleProcessCommunicator: Communicator {
    /// The one instance (communicators compare by identity; see ``RowShard``).
    public static let shared = SingleProcessCommunicator()

    private init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws(LinearAlgebraError) {}

    public func reduceScatterSum(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError) {
        try requireCounts(counts, local: receive.count, operation: "reduceScatterSum")
        guard send.count == receive.count else {
            throw .communication(operation: "reduceScatterSum", message: "send \(send.count) ≠ receive \(receive.count)")
        }
        if let base = send.baseAddress, send.count > 0 { receive.baseAddress!.update(from: base, count: send.count) }
    }

    public func allgather(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError) {
        try requireCounts(counts, local: send.count, operation: "allgather")
        guard send.count == receive.count else {
            throw .communication(operation: "allgather", message: "send \(send.count) ≠ receive \(receive.count)")
        }
        if let base = send.baseAddress, send.count > 0 { receive.baseAddress!.update(from: base, count: send.count) }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Double>, root: Int) throws(LinearAlgebraError) {
        guard root == 0 else { throw .communication(operation: "broadcast", message: "root \(root) of a one-rank group") }
    }

    public func barrier() throws(LinearAlgebraError) {}
}
