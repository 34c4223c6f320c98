import Foundation
import NHGDBilevel
import NHGDLinearAlgebra
import NHGDSketches

typealias Softmax = LinearModel<SoftmaxCrossEntropy>
typealias ParallelCleaning = HyperCleaning<DataParallelSamples<Softmax>>

/// A synthetic hyper-cleaning problem (softmax regression on d features plus a bias, K classes,
/// labels from a random linear truth, a fraction of the training labels changed), the same on
/// every rank (one seed), as its parts: training inputs/targets, validation, test, changed labels.
struct CleaningData {
    var training: Softmax, validation: Softmax, test: Softmax, changed: [Bool]

    init(n: Int, seed: UInt64) throws {
        var rng = Xoshiro256StarStar(seed: seed)
        let d = 5, k = 3
        let truth = Matrix.gaussian(rows: d + 1, columns: k, using: &rng)
        func draw(_ count: Int) throws -> (Matrix, [Double]) {
            var a = Matrix.gaussian(rows: d + 1, columns: count, using: &rng)
            for i in 0..<count { a[d, i] = 1 }
            var logits = Matrix(rows: k, columns: count)
            try BLAS.gemm(.transpose, .none, truth, a, &logits)
            return (a, (0..<count).map { i in Double((0..<k).max { logits[$0, i] < logits[$1, i] }!) })
        }
        var (a, b) = try draw(n)
        changed = (0..<n).map { _ in Double.random(in: 0..<1, using: &rng) < 0.4 }
        for i in 0..<n where changed[i] { b[i] = Double((Int(b[i]) + Int.random(in: 1..<k, using: &rng)) % k) }
        let loss = SoftmaxCrossEntropy(classCount: k)
        training = try Softmax(inputs: a, targets: b, loss: loss)
        let (va, vb) = try draw(20), (ta, tb) = try draw(30)
        validation = try Softmax(inputs: va, targets: vb, loss: loss)
        test = try Softmax(inputs: ta, targets: tb, loss: loss)
    }

    /// The problem with the training samples split over `communicator` (this rank's block), the
    /// validation and test sets replicated.
    func problem(on communicator: any Communicator) throws -> ParallelCleaning {
        let n = training.sampleCount
        let range = DataParallelSamples<Softmax>.samples(of: communicator.rank, count: n, ranks: communicator.size)
        var inputs = Matrix(rows: training.inputs.rows, columns: range.count)
        for (k, i) in range.enumerated() { for f in 0..<inputs.rows { inputs[f, k] = training.inputs[f, i] } }
        let local = try Softmax(inputs: inputs, targets: Array(training.targets[range]), loss: training.loss)
        func replicated(_ m: Softmax) throws -> DataParallelSamples<Softmax> {
            try DataParallelSamples(local: m, sampleCount: m.sampleCount, communicator: SingleProcessCommunicator.shared)
        }
        return try ParallelCleaning(training: DataParallelSamples(local: local, sampleCount: n, communicator: communicator),
                                    changedLabels: changed, validation: replicated(validation), test: replicated(test),
                                    l2: 0.01)
    }
}

/// The data-parallel inner loop across MPI ranks (`DataParallelSamples`: each rank holds a
/// block of the training samples, each step's combination block is summed across ranks, every
/// rank draws the same minibatches) against one process, for NHGD (a rank-8 FD sketch fed
/// Gaussian-compressed columns by the inner loop), CG-5, and NHGD with its sketch sharded by
/// parameter rows (`ShardedNaturalHypergradient`, against plain NHGD in one process): x and y to 1e-9 relative, and the
/// cleaning metrics (test accuracy, AUROC, validation loss) equal at 4 decimals. Includes a
/// problem with fewer samples than ranks at R = 3 (a rank with no samples).
/// - Returns: the number of failed comparisons on this rank.
func checkDataParallelEqualsOneProcess(_ communicator: any Communicator, report: (String) -> Void) throws -> Int {
    var failures = 0, worst = 0.0
    var lines: [String] = []
    for (n, seed) in [(60, UInt64(21)), (2, UInt64(22))] {
        let data = try CleaningData(n: n, seed: seed)
        var configuration = BilevelOptimizerConfiguration()
        configuration.outerIterations = 4
        configuration.innerSteps = 10
        configuration.batchSize = min(8, n)
        configuration.seed = 3
        let p = data.training.parameterCount
        for name in ["NHGD", "CG-5", "NHGD with a sharded sketch"] {
            let columns = CurvatureColumnRequest(compression: .gaussian(columns: 4), interval: 2)
            func run(_ problem: ParallelCleaning, on ranks: any Communicator) throws -> Outcome {
                if name == "NHGD with a sharded sketch", ranks.isDistributed {
                    // The one-process reference is plain NHGD (below); here each rank keeps p/R rows.
                    return try runOptimizer(problem, configuration, ShardedNaturalHypergradient<ParallelCleaning>(
                        sketch: FrequentDirectionsSketch(shard: RowShard(dimension: p, communicator: ranks), rank: 8,
                                                         compensation: .scalar),
                        damping: 1e-2, columns: columns))
                }
                if name != "CG-5" {
                    return try runOptimizer(problem, configuration, NaturalHypergradient<ParallelCleaning, FrequentDirectionsSketch>(
                        sketch: FrequentDirectionsSketch(dimension: p, rank: 8, compensation: .scalar), damping: 1e-2,
                        columns: columns))
                }
                return try runOptimizer(problem, configuration, ConjugateGradientHypergradient<ParallelCleaning>(iterations: 5))
            }
            let one = try run(data.problem(on: SingleProcessCommunicator.shared), on: SingleProcessCommunicator.shared)
            let many = try run(data.problem(on: communicator), on: communicator)
            let dx = relativeDifference(many.x, one.x), dy = relativeDifference(many.y, one.y)
            worst = max(worst, dx, dy)
            let keys = ["test_accuracy", "auroc", "validation_loss"]
            func printed(_ o: Outcome) -> String {
                keys.compactMap { k in o.metrics[k].map { "\(k) \(String(format: "%.4f", $0))" } }.joined(separator: ", ")
            }
            if !(dx <= 1e-9 && dy <= 1e-9) || printed(one) != printed(many) {
                failures += 1
                print("FAIL (rank \(communicator.rank)) data-parallel \(name), n = \(n): x differs by \(dx), y by \(dy); "
                    + "one process: \(printed(one)); R = \(communicator.size): \(printed(many))")
            }
            if n == 60 { lines.append("\(name): \(printed(many))") }
        }
    }
    report(String(format: "data-parallel hyper-cleaning = one process on R = %d (n = 60 and n = 2): x, y within %.1e; %@",
                  communicator.size, worst, lines.joined(separator: "; ")))
    return failures
}

/// The final point and metrics of a run.
struct Outcome {
    var x: [Double], y: [Double], metrics: [String: Double]
}

func runOptimizer<E: HypergradientEstimator>(_ problem: ParallelCleaning, _ configuration: BilevelOptimizerConfiguration,
                                             _ estimator: E) throws -> Outcome where E.Problem == ParallelCleaning {
    var optimizer = try BilevelOptimizer(problem: problem, estimator: estimator, configuration: configuration)
    try optimizer.run()
    return Outcome(x: optimizer.x, y: optimizer.y, metrics: optimizer.trace.last!.metrics)
}

/// `‖a − b‖ / ‖b‖`.
func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for i in a.indices { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i] }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}
