import Foundation
import NaturalHypergradient

/// `sketch`: Frequent Directions ingest throughput, shrink GFLOP/s against the dgemm probe, and
/// memory against the `(2ℓ + 2)·p·8`-byte budget (Docs/sketches.md).
///
/// For p ∈ {10⁵, 10⁶} (2·10⁴ with `--quick`) and ℓ ∈ {16, 64, 256} (ℓ = 256 only at p = 10⁵;
/// at 10⁶ one shrink is ~460 GFLOP), blocks of 64 gradients with β = 0.1:
/// - `ingest <method>`: gradients per second over enough blocks for several shrinks, with the
///   model rate 7pℓ flops per gradient as GFLOP/s;
/// - `shrink <method>`: one shrink of a full buffer (median), 7pℓ² model flops, ratio to dgemm;
/// - `compressed ingest gaussian s=8`, `compressed ingest sampledColumns s=8`: the same stream
///   compressed to 8 columns per block by each `IngestCompression`;
/// - memory: `byteCount` and the resident-set growth while the sketch was built, ÷ budget.
struct SketchSuite: BenchmarkSuite {
    let name = "sketch"
    let summary = "Frequent Directions ingest/shrink throughput vs dgemm and memory vs (2ℓ+2)p·8, p ∈ {1e5, 1e6}"
    static let blockSize = 64

    func run(_ context: BenchmarkContext) throws -> [BenchmarkRecord] {
        let quick = context.options.quick
        let machine = context.machine()
        let configurations: [(p: Int, l: Int, methods: [ShrinkMethod])] = quick
            ? [(20_000, 16, [.gramTrick, .svd]), (20_000, 64, [.gramTrick])]
            : [(100_000, 16, [.gramTrick, .svd]), (100_000, 64, [.gramTrick, .svd]), (100_000, 256, [.gramTrick]),
               (1_000_000, 16, [.gramTrick]), (1_000_000, 64, [.gramTrick])]
        let reps = context.repetitions(full: 5, quick: 3)
        var records = [BenchmarkRecord]()
        for (p, l, methods) in configurations {
            let b = Self.blockSize
            let block = try Matrix(rows: p, columns: b, storage: filledArray(count: p * b, seed: UInt64(l)))
            let refill = try Matrix(rows: p, columns: 2 * l, storage: filledArray(count: 2 * p * l, seed: UInt64(l + 1)))
            let budget = Double((2 * l + 2) * p * 8)
            for method in methods {
                let label = method == .svd ? "svd" : "gram"
                let rssBefore = residentBytes()
                var sketch = try FrequentDirectionsSketch(dimension: p, rank: l, shrinkMethod: method)
                // Warm up: fill the buffer and shrink once.
                for _ in 0...(2 * l / b) { try sketch.ingest(block, weights: nil, forgetting: 0.1) }
                let rssGrowth = Double(residentBytes() - rssBefore)
                let blocks = max(2, 4 * l / b)
                let ingestSeconds = try time {
                    for _ in 0..<blocks { try sketch.ingest(block, weights: nil, forgetting: 0.1) }
                } / Double(blocks)
                let gradientsPerSecond = Double(b) / ingestSeconds
                let modelFlops = 7 * Double(p) * Double(l) * gradientsPerSecond
                records.append(BenchmarkRecord(
                    suite: name, name: "ingest \(label)", p: p, k: l, seconds: ingestSeconds,
                    ratio: modelFlops / machine.dgemmFlopsPerSecond, limit: "dgemm",
                    metrics: [("gradients/s", gradientsPerSecond), ("GFLOP/s", modelFlops / 1e9),
                              ("bytes", Double(sketch.byteCount)), ("bytes/budget", Double(sketch.byteCount) / budget),
                              ("RSS growth/budget", rssGrowth / budget)]))

                // One shrink of a full buffer: refill to 2ℓ columns untimed, then shrink.
                var shrinkTimes = [Double]()
                for _ in 0..<reps {
                    try sketch.shrink()
                    try sketch.ingest(refill.leadingColumns(2 * l - sketch.filledColumns), weights: nil, forgetting: 0.1)
                    shrinkTimes.append(try time { try sketch.shrink() })
                }
                let shrinkSeconds = median(shrinkTimes)
                let shrinkFlops = 7 * Double(p) * Double(l) * Double(l)
                records.append(BenchmarkRecord(
                    suite: name, name: "shrink \(label)", p: p, k: l, seconds: shrinkSeconds,
                    ratio: shrinkFlops / shrinkSeconds / machine.dgemmFlopsPerSecond, limit: "dgemm",
                    metrics: [("GFLOP/s", shrinkFlops / shrinkSeconds / 1e9)]))
                blackHole(sketch.shrunkMass)
            }
            // Compressed ingest: each block of 64 becomes 8 columns, by one 2·p·64·8-flop gemm
            // (gaussian) or by copying 8 sampled columns (sampledColumns).
            let compressions: [(label: String, compression: IngestCompression)] =
                [("gaussian", .gaussian(columns: 8)), ("sampledColumns", .sampledColumns(columns: 8))]
            for (label, compression) in compressions {
                var compressed = try FrequentDirectionsSketch(dimension: p, rank: l)
                var rng = Xoshiro256StarStar(seed: 1)
                for _ in 0...(2 * l / 8) {
                    try compressed.ingest(block, weights: nil, forgetting: 0.1, compression: compression, using: &rng)
                }
                let compressedBlocks = max(2, 4 * l / 8)
                let compressedSeconds = try time {
                    for _ in 0..<compressedBlocks {
                        try compressed.ingest(block, weights: nil, forgetting: 0.1, compression: compression, using: &rng)
                    }
                } / Double(compressedBlocks)
                records.append(BenchmarkRecord(
                    suite: name, name: "compressed ingest \(label) s=8", p: p, k: l, seconds: compressedSeconds,
                    metrics: [("gradients/s", Double(b) / compressedSeconds)]))
            }
        }
        return records
    }
}
