import Foundation
import NHGDLinearAlgebra

/// R "ranks" of one process, one thread each: a ``Communicator`` for testing the sharded
/// algorithms in `swift test`, without MPI.
///
/// Every collective deposits each rank's buffer in a shared slot, meets at a barrier, lets
/// every rank compute the result from the slots *in rank order* (so every rank gets the same
/// bits, as the protocol promises), and meets again before a slot can be reused.
/// ``run(ranks:_:)`` starts the ranks and returns each one's result. A rank whose body throws
/// breaks the group: every rank waiting in (or later entering) a collective throws
/// `communication` instead of waiting forever, as `mpirun` stops the ranks of a failed job.
public final class ThreadGroupCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public var size: Int { group.size }
    private let group: Group

    private init(rank: Int, group: Group) {
        self.rank = rank
        self.group = group
    }

    /// Runs `body` on `ranks` threads, each with its communicator, and returns the results in
    /// rank order. `body` must make the same collectives on every rank (as under MPI).
    public static func run<T: Sendable>(ranks: Int, _ body: @escaping @Sendable (ThreadGroupCommunicator) throws -> T)
        -> [Result<T, any Error>] {
        precondition(ranks >= 1)
        let group = Group(size: ranks)
        let results = ResultSlots<T>(count: ranks)
        let done = DispatchGroup()
        for r in 0..<ranks {
            done.enter()
            let thread = Thread {
                let communicator = ThreadGroupCommunicator(rank: r, group: group)
                let result = Result { try body(communicator) }
                if case .failure = result { group.breakGroup() }
                results.set(r, result)
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return results.values
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws(LinearAlgebraError) {
        let all = try group.exchange(rank, Array(buffer))
        for i in 0..<buffer.count { buffer[i] = all.reduce(0) { $0 + $1[i] } }
        try group.barrier()
    }

    public func reduceScatterSum(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError) {
        try requireCounts(counts, local: receive.count, operation: "reduceScatterSum")
        let all = try group.exchange(rank, Array(send))
        let offset = counts[0..<rank].reduce(0, +)
        for i in 0..<receive.count { receive[i] = all.reduce(0) { $0 + $1[offset + i] } }
        try group.barrier()
    }

    public func allgather(
        _ send: UnsafeBufferPointer<Double>, counts: [Int], into receive: UnsafeMutableBufferPointer<Double>
    ) throws(LinearAlgebraError) {
        try requireCounts(counts, local: send.count, operation: "allgather")
        let all = try group.exchange(rank, Array(send))
        var n = 0
        for part in all { for x in part { receive[n] = x; n += 1 } }
        try group.barrier()
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Double>, root: Int) throws(LinearAlgebraError) {
        let all = try group.exchange(rank, rank == root ? Array(buffer) : [])
        for i in 0..<buffer.count { buffer[i] = all[root][i] }
        try group.barrier()
    }

    public func barrier() throws(LinearAlgebraError) {
        try group.barrier()
    }

    /// The shared slots and a reusable barrier.
    private final class Group: @unchecked Sendable {
        let size: Int
        private let condition = NSCondition()
        private var arrived = 0
        private var generation = 0
        private var slots: [[Double]]

        init(size: Int) {
            self.size = size
            slots = Array(repeating: [], count: size)
        }

        /// Deposits `value` for `rank`, waits for every rank, and returns all slots.
        private var broken = false

        /// Marks the group failed and wakes every waiting rank.
        func breakGroup() {
            condition.lock()
            broken = true
            condition.broadcast()
            condition.unlock()
        }

        func exchange(_ rank: Int, _ value: [Double]) throws(LinearAlgebraError) -> [[Double]] {
            condition.lock()
            slots[rank] = value
            condition.unlock()
            try barrier()
            condition.lock()
            defer { condition.unlock() }
            return slots
        }

        func barrier() throws(LinearAlgebraError) {
            condition.lock()
            defer { condition.unlock() }
            if broken { throw .communication(operation: "ThreadGroupCommunicator", message: "another rank failed") }
            let current = generation
            arrived += 1
            if arrived == size {
                arrived = 0
                generation += 1
                condition.broadcast()
            } else {
                while generation == current && !broken { condition.wait() }
                if generation == current {
                    throw .communication(operation: "ThreadGroupCommunicator", message: "another rank failed")
                }
            }
        }
    }

    private final class ResultSlots<T>: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Result<T, any Error>?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ value: Result<T, any Error>) {
            lock.lock()
            slots[i] = value
            lock.unlock()
        }
        var values: [Result<T, any Error>] {
            lock.lock()
            defer { lock.unlock() }
            return slots.map { $0! }
        }
    }
}
