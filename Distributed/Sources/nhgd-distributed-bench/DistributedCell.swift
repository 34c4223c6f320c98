import Foundation
import NHGDLinearAlgebra
import NHGDSketches

/// The header of the rows ``runDistributedCell(world:p:rank:steps:columns:outer:)`` prints.
let distributedHeader = "| R | p | ℓ | T | s | s / outer it. | comm. s | comm. share | doubles / rank | model | ÷ model | peak RSS / rank | sketch / rank |"

/// Runs the cell and returns its table row (the same on every rank; rank 0 prints it).
///
/// The model of the doubles each rank hands to collectives per outer iteration, with m = 2ℓ
/// the buffer's width (ALGORITHMS.md §8, issue 13):
///
/// ```
/// T·p·s            the gradient blocks (reduce-scatter send payload)
/// + shrinks · m²   each shrink's eigenvectors (broadcast)
/// + solves · m     each solve's Mᵀ D⁻¹ v (allreduce)
/// ```
///
/// Left out of the model and counted in the measurement: per step the column norms (2s + 1)
/// and the Gram border (m·s), per estimate the capacitance factor (m²).
func runDistributedCell(world: any Communicator, p: Int, rank ell: Int, steps: Int, columns s: Int, outer: Int)
    throws -> String {
    let communicator = MeasuredCommunicator(world)
    let ranks = communicator.size
    let shard = try RowShard(dimension: p, communicator: communicator)
    let rows = shard.rows, local = rows.count
    var sketch = try FrequentDirectionsSketch(shard: shard, rank: ell, compensation: .scalar)

    // This rank's synthetic combination block G_r C (p×s, uniform entries: a full-rank
    // stream); drawing it is excluded from the timings.
    var rng = Xoshiro256StarStar(seed: 0xD157 &+ UInt64(communicator.rank))
    var block = Matrix(rows: p, columns: s)
    var mine = Matrix(rows: local, columns: s)

    var outerSeconds: [Double] = [], commSeconds: [Double] = [], doubles: [Int] = [], shrinks: [Int] = []
    for _ in 0..<outer {
        communicator.resetCounts()
        let shrinksBefore = sketch.shrinkCount
        var elapsed: UInt64 = 0
        for _ in 0..<steps {
            block.storage.withUnsafeMutableBufferPointer { b in
                for i in 0..<b.count { b[i] = Double(Int64(bitPattern: rng.next()) >> 11) * 0x1p-52 }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            // Σ_ranks G_r C, this rank's rows only (one reduce-scatter), then the ingest.
            try shard.reduceScatter(block, into: &mine)
            try sketch.ingest(mine, columns: 0..<s, forgetting: 0.1)
            elapsed += DispatchTime.now().uptimeNanoseconds - start
        }
        // One estimate: the in-place factorisation and a solve.
        let start = DispatchTime.now().uptimeNanoseconds
        let inverse = try sketch.inverse(adding: .uniform(1e-3, dimension: local), damping: 1e-3)
        _ = try inverse.solve([Double](repeating: 1, count: local))
        elapsed += DispatchTime.now().uptimeNanoseconds - start
        outerSeconds.append(Double(elapsed) * 1e-9)
        commSeconds.append(communicator.seconds)
        doubles.append(communicator.totalDoubles)
        shrinks.append(sketch.shrinkCount - shrinksBefore)
    }
    // The last outer iteration is the steady state (the first fills an empty buffer).
    let last = outer - 1
    let m = 2 * ell
    let model = steps * p * s + shrinks[last] * m * m + 1 * m
    // The slowest rank's times and the largest rank's memory.
    var gathered = try world.allgather([outerSeconds[last], commSeconds[last], Double(peakResidentBytes()),
                                        Double(sketch.byteCount)], counts: Array(repeating: 4, count: ranks))
    let slowest = stride(from: 0, to: gathered.count, by: 4).max { gathered[$0] < gathered[$1] }!
    let outerTime = gathered[slowest], commTime = gathered[slowest + 1]
    let peak = stride(from: 2, to: gathered.count, by: 4).map { gathered[$0] }.max()!
    let sketchBytes = stride(from: 3, to: gathered.count, by: 4).map { gathered[$0] }.max()!
    gathered.removeAll()
    return String(format: "| %d | %d | %d | %d | %d | %.2f | %.2f | %.0f%% | %d | %d | %.3f | %@ | %@ |",
                  ranks, p, ell, steps, s, outerTime, commTime, 100 * commTime / outerTime, doubles[last], model,
                  Double(doubles[last]) / Double(model), formatBytes(Int(peak)), formatBytes(Int(sketchBytes)))
}

/// Peak resident set of this process (`VmHWM` of /proc/self/status), 0 where unavailable.
func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
    }
    return 0
}
