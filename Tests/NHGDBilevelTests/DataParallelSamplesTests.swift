import Foundation
import NHGDLinearAlgebra
import NHGDSketches
import NHGDTestSupport
import Testing
@testable import NHGDBilevel

/// `DataParallelSamples`: the training samples split across in-process ranks
/// (`ThreadGroupCommunicator`), every oracle the sum of the ranks' parts, and the optimiser run
/// unchanged on every rank.
@Suite("Data-parallel samples")
struct DataParallelSamplesTests {
    typealias Softmax = LinearModel<SoftmaxCrossEntropy>
    typealias ShardedCleaning = HyperCleaning<DataParallelSamples<Softmax>>

    /// This rank's part of a hyper-cleaning problem: its block of the training samples; the
    /// validation and test sets replicated (a single-process wrapper, no collectives).
    static func shard(_ problem: DataHyperCleaning, _ communicator: any Communicator) throws -> ShardedCleaning {
        let n = problem.data.sampleCount
        let range = DataParallelSamples<Softmax>.samples(of: communicator.rank, count: n, ranks: communicator.size)
        var inputs = Matrix(rows: problem.data.inputs.rows, columns: range.count)
        for (k, i) in range.enumerated() { for f in 0..<inputs.rows { inputs[f, k] = problem.data.inputs[f, i] } }
        let local = try Softmax(inputs: inputs, targets: Array(problem.data.targets[range]), loss: problem.data.loss)
        func replicated(_ m: Softmax) throws -> DataParallelSamples<Softmax> {
            try DataParallelSamples(local: m, sampleCount: m.sampleCount, communicator: SingleProcessCommunicator.shared)
        }
        return try ShardedCleaning(
            training: DataParallelSamples(local: local, sampleCount: n, communicator: communicator),
            changedLabels: problem.changedLabels, validation: replicated(problem.outer.data),
            test: try problem.test.map(replicated), l2: problem.l2)
    }

    /// Every oracle of the sharded data term equals the one-process one: per-sample values bit
    /// for bit (each comes from one rank), sums to 1e-13 relative (only the order of additions
    /// differs), including ranks that hold no samples (n < R) and minibatches that miss a rank.
    @Test func oraclesEqualTheOneProcessOnes() throws {
        try forAll("data-parallel oracles = one process", cases: 20) { c in
            let ranks = c.int(in: 1...4)
            let n = c.bool() ? c.int(in: 1...ranks) : c.size(1...40)
            var rng = c.rng
            let problem = try randomCleaningProblem(d: c.size(1...5), k: c.size(2...4), n: n, m: 5, l2: 0.1, using: &rng)
            let p = problem.data.parameterCount
            let y = c.vector(count: p), u = c.vector(count: p)
            let batch = (0..<c.size(1...12)).map { _ in c.int(in: 0...(n - 1)) }
            let coefficients = Matrix.gaussian(rows: batch.count, columns: 3, using: &c.rng)
            let hvpWeights = c.vector(count: batch.count)
            var g = Matrix(rows: p, columns: 3)
            try problem.data.gradientCombinations(at: y, samples: batch, coefficients: coefficients, into: &g)
            var hv = [Double](repeating: 0, count: p)
            try problem.data.hessianVectorProduct(at: y, v: u, samples: batch, coefficients: hvpWeights, into: &hv)
            let reference = (losses: try problem.data.losses(at: y, samples: nil),
                             batchLosses: try problem.data.losses(at: y, samples: batch),
                             projections: try problem.data.gradientProjections(at: y, along: u, samples: batch),
                             g: g, hv: hv, accuracy: try problem.data.accuracy(at: y))
            c.note("R=\(ranks) n=\(n) p=\(p) batch=\(batch)")
            let results = ThreadGroupCommunicator.run(ranks: ranks) { communicator in
                let data = try Self.shard(problem, communicator).data
                var g = Matrix(rows: p, columns: 3, repeating: .nan)
                try data.gradientCombinations(at: y, samples: batch, coefficients: coefficients, into: &g)
                var hv = [Double](repeating: .nan, count: p)
                try data.hessianVectorProduct(at: y, v: u, samples: batch, coefficients: hvpWeights, into: &hv)
                return (try data.losses(at: y, samples: nil), try data.losses(at: y, samples: batch),
                        try data.gradientProjections(at: y, along: u, samples: batch), g, hv, try data.accuracy(at: y))
            }
            for (r, result) in results.enumerated() {
                let (losses, batchLosses, projections, g, hv, accuracy) = try result.get()
                try c.expect(losses == reference.losses && batchLosses == reference.batchLosses, "rank \(r): losses differ")
                try c.expect(projections == reference.projections, "rank \(r): projections differ")
                try c.expect(accuracy == reference.accuracy, "rank \(r): accuracy \(accuracy) vs \(reference.accuracy)")
                try c.expect(relativeError(g, reference.g) <= 1e-13, "rank \(r): G C differs by \(relativeError(g, reference.g))")
                try c.expect(relativeError(hv, reference.hv) <= 1e-13, "rank \(r): HVP differs by \(relativeError(hv, reference.hv))")
            }
        }
    }

    /// NHGD with a rank-8 FD sketch fed 4 Gaussian-compressed columns every 2nd step.
    static func nhgd<P: BilevelProblem>(_ type: P.Type, _ p: Int) throws -> NaturalHypergradient<P, FrequentDirectionsSketch> {
        try NaturalHypergradient(sketch: FrequentDirectionsSketch(dimension: p, rank: 8, compensation: .scalar),
                                 damping: 1e-2, columns: CurvatureColumnRequest(compression: .gaussian(columns: 4), interval: 2))
    }

    /// The optimiser on every rank of the sharded problem follows the one-process trajectory:
    /// the same minibatch schedule (one seed), each step's combination block summed across
    /// ranks. After 3 outer iterations of 10 SGD steps, with NHGD (a rank-8 FD sketch fed by
    /// the inner loop, pipelined, Gaussian-compressed columns) and with CG-5, x and y agree with one process to 1e-9
    /// relative (rounding from the reordered sums, amplified by the 30 steps), and the printed
    /// metrics to 1e-9; so does NHGD with its sketch sharded by parameter rows
    /// (`ShardedNaturalHypergradient`) against the one-process NHGD.
    @Test func optimizerMatchesOneProcess() throws {
        var rng = Xoshiro256StarStar(seed: 11)
        let problem = try randomCleaningProblem(d: 4, k: 3, n: 37, m: 12, l2: 0.05, using: &rng)
        var configuration = BilevelOptimizerConfiguration()
        configuration.outerIterations = 3
        configuration.innerSteps = 10
        configuration.batchSize = 8
        configuration.seed = 5
        // In-process ranks share one OpenBLAS: `BLAS.withThreadCount` holds a process-wide lock
        // for the whole step, which one rank would keep while it waits in a collective for
        // another (MPI ranks are processes and can pin).
        configuration.blasThreads = nil
        let config = configuration
        let p = problem.data.parameterCount
        var one = try BilevelOptimizer(problem: problem, estimator: Self.nhgd(DataHyperCleaning.self, p), configuration: config)
        try one.run()
        var oneCG = try BilevelOptimizer(problem: problem, estimator: ConjugateGradientHypergradient<DataHyperCleaning>(iterations: 5),
                                         configuration: config)
        try oneCG.run()
        let reference = [(one.x, one.y, one.trace.last!.metrics), (oneCG.x, oneCG.y, oneCG.trace.last!.metrics),
                         (one.x, one.y, one.trace.last!.metrics)]
        for ranks in 1...3 {
            let results = ThreadGroupCommunicator.run(ranks: ranks) { communicator in
                let sharded = try Self.shard(problem, communicator)
                var a = try BilevelOptimizer(problem: sharded, estimator: Self.nhgd(ShardedCleaning.self, p), configuration: config)
                try a.run()
                var b = try BilevelOptimizer(problem: sharded, estimator: ConjugateGradientHypergradient<ShardedCleaning>(iterations: 5),
                                             configuration: config)
                try b.run()
                // NHGD with the sketch itself sharded by parameter rows (memory ∝ p/R).
                let sketch = try FrequentDirectionsSketch(shard: RowShard(dimension: p, communicator: communicator), rank: 8,
                                                          compensation: .scalar)
                var c = try BilevelOptimizer(
                    problem: sharded,
                    estimator: ShardedNaturalHypergradient<ShardedCleaning>(
                        sketch: sketch, damping: 1e-2, columns: CurvatureColumnRequest(compression: .gaussian(columns: 4), interval: 2)),
                    configuration: config)
                try c.run()
                return [(a.x, a.y, a.trace.last!.metrics), (b.x, b.y, b.trace.last!.metrics), (c.x, c.y, c.trace.last!.metrics)]
            }
            for (r, result) in results.enumerated() {
                for (e, (x, y, metrics)) in try result.get().enumerated() {
                    let (rx, ry, rm) = reference[e]
                    let name = ["NHGD", "CG-5", "NHGD, sharded sketch"][e]
                    #expect(relativeError(x, rx) <= 1e-9, "R=\(ranks) rank \(r) \(name): x differs by \(relativeError(x, rx))")
                    #expect(relativeError(y, ry) <= 1e-9, "R=\(ranks) rank \(r) \(name): y differs by \(relativeError(y, ry))")
                    #expect(Set(metrics.keys) == Set(rm.keys))
                    for (key, value) in rm { #expect(abs(metrics[key]! - value) <= 1e-9 * max(1, abs(value)), "\(name) \(key)") }
                }
            }
        }
    }
}
