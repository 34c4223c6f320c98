import NHGDLinearAlgebra
import NHGDSketches

/// NHGD with its Frequent Directions sketch sharded by parameter rows across the ranks of a
/// ``RowShard`` (ALGORITHMS.md §8, Docs/distributed.md): each rank keeps its p/R rows of the
/// sketch, so the sketch's memory per rank is ∝ p/R, while y, x and the problem are replicated
/// (for example over ``DataParallelSamples``).
///
/// ```
/// observe:  this rank's rows of the curvature columns → its shard of the sketch
/// solve:    u_r = ((F̂ + ∇²R + λI)⁻¹ ∇ᵧf)_r   (the sharded Woodbury solve: one allreduce of m)
///           u   = allgather(u_r)              (every rank assembles d = ∇ₓf − J u itself)
/// ```
///
/// The estimate equals ``NaturalHypergradient`` with the same whole sketch to rounding. The
/// columns the inner loop hands over are the whole p×(1 + s) block, already summed across the
/// ranks of a data-parallel problem, so each rank only copies its rows (a reduce-scatter of the
/// curvature columns would save that allreduce's share of them; not done here). `observe` makes
/// collective calls, so the optimiser runs this estimator unpipelined
/// (``HypergradientEstimator/observesOnCallerThread``).
public struct ShardedNaturalHypergradient<Problem: BilevelProblem>: HypergradientEstimator {
    public var name: String { "nhgd-sharded" }
    /// This rank's shard of the sketch.
    public private(set) var sketch: FrequentDirectionsSketch
    /// λ ≥ 0, added to the diagonal.
    public let damping: Double
    /// The columns asked of the inner loop.
    public let columns: CurvatureColumnRequest
    /// Scratch: this rank's rows of a block.
    private var rows: Matrix

    /// - Parameters:
    ///   - sketch: an empty sharded sketch (`FrequentDirectionsSketch(shard:…)`) of the problem's p.
    ///   - damping, columns: as ``NaturalHypergradient``.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(sketch: FrequentDirectionsSketch, damping: Double = 1e-3,
                columns: CurvatureColumnRequest = CurvatureColumnRequest(compression: .none)) throws {
        try requireHyperparameter(damping >= 0 && damping.isFinite, "damping", damping, "must be finite and ≥ 0")
        try columns.validate()
        self.sketch = sketch
        self.damping = damping
        self.columns = columns
        rows = Matrix(rows: sketch.dimension, columns: 0)
    }

    public var columnRequest: CurvatureColumnRequest? { columns }
    public var observesOnCallerThread: Bool { true }

    /// Ingests this rank's rows of `block[:, columns]` (p rows).
    public mutating func observe(_ block: Matrix, columns range: Range<Int>, forgetting beta: Double) throws {
        let shard = sketch.shard, local = shard.localDimension, p = block.rows
        guard p == shard.globalDimension else {
            throw BilevelError.dimensionMismatch(operation: "ShardedNaturalHypergradient.observe",
                                                 expected: "\(shard.globalDimension) rows", actual: "\(p)")
        }
        if rows.columns != range.count { rows = Matrix(rows: local, columns: range.count) }
        block.storage.withUnsafeBufferPointer { src in
            rows.storage.withUnsafeMutableBufferPointer { dst in
                for (k, j) in range.enumerated() {
                    (dst.baseAddress! + k * local).update(from: src.baseAddress! + j * p + shard.rows.lowerBound, count: local)
                }
            }
        }
        try sketch.ingest(rows, columns: 0..<range.count, forgetting: beta)
    }

    public mutating func reset() { sketch.reset() }

    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        let shard = sketch.shard
        guard shard.globalDimension == system.dimension else {
            throw BilevelError.dimensionMismatch(operation: "ShardedNaturalHypergradient",
                                                 expected: "a sketch of dimension \(system.dimension)",
                                                 actual: "dimension \(shard.globalDimension)")
        }
        let curvature = system.regularizerCurvature
        let local = curvature.uniformValue.map { Diagonal.uniform($0, dimension: shard.localDimension) }
            ?? Diagonal(entries: Array(curvature.entries[shard.rows]))
        let b = try system.rightHandSide()
        let uLocal = try sketch.inverse(adding: local, damping: damping).solve(Array(b[shard.rows]))
        let u = try shard.allgather(uLocal)
        let floor = damping + curvature.minimum
        return AdjointSolution(u: u, errorBound: floor > 0 ? sketch.spectralErrorBound / floor : nil)
    }
}
