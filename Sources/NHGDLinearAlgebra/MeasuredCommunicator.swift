import Foundation

/// A ``Communicator`` that forwards to another and counts what passes through it: the doubles
/// each collective was handed on this rank and the wall time spent inside the collectives
/// (which includes waiting for slower ranks). The measurement behind the communication model
/// of Docs/distributed.md and `nhgd-distributed-bench`.
///
/// Counted per call, on this rank: `allreduceSum` and `broadcast` the buffer's length,
/// `reduceScatterSum` the send buffer's length (all p·s doubles of a block, of which this rank
/// receives its p/R·s), `allgather` the doubles it receives. That is the payload handed to the
/// library; the bytes on the wire depend on its algorithm (a ring reduce-scatter sends
/// (R − 1)/R of the payload from each rank).
///
/// Not thread-safe: one thread per rank calls collectives, as everywhere in this package.
public final class MeasuredCommunicator: Communicator, @unchecked Sendable {
    /// The collectives, for the tallies.
    public enum Collective: String, CaseIterable, Sendable {
        case allreduce, reduceScatter, allgather, broadcast, barrier
    }

    /// The communicator that does the work.
    public let base: any Communicator
    /// Doubles handed to each collective since creation or ``resetCounts()``.
    public private(set) var doubles: [Collective: Int] = [:]
    /// Calls of each collective.
    public private(set) var calls: [Collective: Int] = [:]
    /// Seconds spent inside collectives.
    public private(set) var seconds: Double = 0

    public init(_ base: any Communicator) {
        self.base = base
    }

    public var rank: Int { base.rank }
    public var size: Int { base.size }

    /// All doubles counted, over every collective.
    public var totalDoubles: Int { doubles.values.reduce(0, +) }

    /// Starts the tallies again.
    public func resetCounts() {
        doubles = [:]
        calls = [:]
        seconds = 0
    }

    private func measure<T>(_ kind: Collective, _ count: Int, _ body: () throws(LinearAlgebraError) -> T)
        throws(LinearAlgebraError) -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            doubles[kind, default: 0] += count
            calls[kind, default: 0] += 1
        }
        return try body()
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws(LinearAlgebraError) {
        try measure(.allreduce, buffer.count) { () throws(LinearAlgebraError) in try base.allreduceSum(buffer) }
    }

    public func reduceScatterSum(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError) {
        try measure(.reduceScatter, send.count) { () throws(LinearAlgebraError) in
            try base.reduceScatterSum(send, counts: counts, into: receive)
        }
    }

    public func allgather(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError) {
        try measure(.allgather, receive.count) { () throws(LinearAlgebraError) in
            try base.allgather(send, counts: counts, into: receive)
        }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Double>, root: Int) throws(LinearAlgebraError) {
        try measure(.broadcast, buffer.count) { () throws(LinearAlgebraError) in try base.broadcast(buffer, root: root) }
    }

    public func barrier() throws(LinearAlgebraError) {
        try measure(.barrier, 0) { () throws(LinearAlgebraError) in try base.barrier() }
    }
}
