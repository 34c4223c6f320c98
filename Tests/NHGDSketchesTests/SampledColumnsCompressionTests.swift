import Foundation
import NHGDLinearAlgebra
import NHGDSketches
import NHGDTestSupport
import Testing

/// `IngestCompression.sampledColumns(columns: s)`: s of the b columns of each block, uniformly
/// without replacement, scaled by √(b/s).
@Suite("Sampled-columns ingest compression")
struct SampledColumnsCompressionTests {
    /// `E[(b/s) Σ_{j∈S} aⱼaⱼᵀ] = Σⱼ aⱼaⱼᵀ` (β = 1, so the sketch of one block is exactly the
    /// compressed block's outer product while s ≤ ℓ).
    @Test func sampledIngestIsUnbiased() throws {
        try forAll("E[(b/s) Σ_S aⱼaⱼᵀ] = A Aᵀ", cases: 8) { c in
            let p = c.size(1...10), b = c.size(2...16), s = c.int(in: 1...(b - 1))
            let draws = 1500
            let g = c.gaussianMatrix(rows: p, columns: b)
            let weights = (0..<b).map { _ in c.double(in: 0...2) }
            c.note("p=\(p) b=\(b) s=\(s) draws=\(draws)")
            // Target Σ = (1/b) G diag(w) Gᵀ, and per entry the population of the b terms
            // c_j = (wⱼ/b) G[r, j] G[q, j], whose sum Σ is.
            var sigma = Matrix(rows: p, columns: p), spread = Matrix(rows: p, columns: p)
            for col in 0..<p { for row in 0..<p {
                let terms = (0..<b).map { weights[$0] / Double(b) * g[row, $0] * g[col, $0] }
                let mean = terms.reduce(0, +) / Double(b)
                sigma[row, col] = terms.reduce(0, +)
                spread[row, col] = terms.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(b)
            } }
            var sketch = try FrequentDirectionsSketch(dimension: p, rank: s)
            var draw = Xoshiro256StarStar(seed: c.rng.next())
            var mean = Matrix(rows: p, columns: p)
            for _ in 0..<draws {
                try sketch.ingest(g, weights: weights, forgetting: 1, compression: .sampledColumns(columns: s), using: &draw)
                let x = try materialized(sketch)
                for i in 0..<mean.storage.count { mean.storage[i] += x.storage[i] / Double(draws) }
            }
            // X = (b/s) Σ_{j∈S} c_j: the sum of s draws without replacement from b values with
            // population variance σ_c² has variance s σ_c² (b − s)/(b − 1), so
            // Var X = b² σ_c² (b − s) / (s (b − 1)), and the mean of R draws has 1/R of it. The
            // terms are bounded, so the CLT holds for R = 1500; 7 standard deviations make a
            // false failure over ≤ 100 entries and 8 cases < 10⁻⁹.
            for col in 0..<p { for row in 0..<p {
                let variance = Double(b * b) * spread[row, col] * Double(b - s) / (Double(s) * Double(b - 1))
                let sd = (variance / Double(draws)).squareRoot()
                try c.expect(abs(mean[row, col] - sigma[row, col]) <= 7 * sd + 1e-13 * (sigma[row, row] + sigma[col, col]),
                             "entry (\(row), \(col)): mean \(mean[row, col]) vs \(sigma[row, col]), sd \(sd)")
            } }
        }
    }

    /// With orthogonal columns `cⱼeⱼ` the sketch of one compressed block is diagonal, and it must
    /// hold exactly s of the b terms, each `(b/s)·(wⱼ/b)·cⱼ²`: the kept columns are copied whole
    /// with the stated scale and the others not at all.
    @Test func eachDrawKeepsExactlySColumnsScaledByBOverS() throws {
        try forAll("one draw = (b/s) × an s-subset", cases: 20) { c in
            let b = c.size(2...12), p = b + c.size(0...5), s = c.int(in: 1...(b - 1))
            let magnitudes = (0..<b).map { _ in c.double(in: 0.5...2) }
            let weights = (0..<b).map { _ in c.double(in: 0.5...2) }
            var g = Matrix(rows: p, columns: b)
            for j in 0..<b { g[j, j] = magnitudes[j] }
            c.note("p=\(p) b=\(b) s=\(s)")
            var sketch = try FrequentDirectionsSketch(dimension: p, rank: s)
            var draw = Xoshiro256StarStar(seed: c.rng.next())
            for _ in 0..<5 {
                try sketch.ingest(g, weights: weights, forgetting: 1, compression: .sampledColumns(columns: s), using: &draw)
                let x = try materialized(sketch)
                var kept = 0
                for j in 0..<p {
                    for i in 0..<p where i != j { try c.expect(abs(x[i, j]) <= 1e-15, "off-diagonal (\(i), \(j)) = \(x[i, j])") }
                    if x[j, j] == 0 { continue }
                    kept += 1
                    let expected = Double(b) / Double(s) * weights[j] / Double(b) * magnitudes[j] * magnitudes[j]
                    try c.expect(j < b && abs(x[j, j] - expected) <= 1e-14 * expected, "diagonal \(j): \(x[j, j]) vs \(expected)")
                }
                try c.expect(kept == s, "kept \(kept) columns, expected \(s)")
                try c.expect(sketch.ingestedCount > 0, "nothing ingested")
            }
        }
    }

    /// Over a whole stream with shrinks and forgetting, the compressed sketch equals an
    /// uncompressed one fed the sampled sub-blocks `G[:, S]` (weights `w_S`, block size s), with
    /// S drawn as the compression draws it (a partial Fisher–Yates on the caller's generator).
    /// The two differ only in how the scale `√(βw/b)·√(b/s)` vs `√(βw/s)` rounds (a relative
    /// 2ε per column), which each shrink carries forward with a growth of O(m) in its Gram,
    /// eigen- and rotation errors (GradientStreamFixtures); relative 1e-9 in Frobenius norm
    /// is far above that and far below any misplaced column or scale.
    @Test func equalsUncompressedSketchOfTheSampledStream() throws {
        try forAll("sampled sketch = sketch of the sampled stream", cases: 15) { c in
            let p = c.size(2...30), rank = c.size(1...5), b = c.size(2...10), s = c.int(in: 1...(b - 1))
            let blocks = c.size(1...12)
            let seed = c.rng.next()
            c.note("p=\(p) ℓ=\(rank) b=\(b) s=\(s) blocks=\(blocks)")
            var compressed = try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .residualDiagonal)
            var reference = try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .residualDiagonal)
            var sketchDraws = Xoshiro256StarStar(seed: seed), draws = Xoshiro256StarStar(seed: seed)
            for t in 0..<blocks {
                let g = c.gaussianMatrix(rows: p, columns: b)
                let weights = (0..<b).map { _ in c.double(in: 0...2) }
                let beta = t == 0 ? 1 : c.double(in: 0.05...0.9)
                try compressed.ingest(g, weights: weights, forgetting: beta, compression: .sampledColumns(columns: s),
                                      using: &sketchDraws)
                var order = Array(0..<b)
                for i in 0..<s { order.swapAt(i, i + Int(draws.next(upperBound: UInt64(b - i)))) }
                let subset = Array(order[0..<s])
                let sub = try Matrix(columns: subset.map { g.column($0) })
                try reference.ingest(sub, weights: subset.map { weights[$0] }, forgetting: beta)
            }
            let x = try materialized(compressed), r = try materialized(reference)
            try c.expect(relativeError(x, r) <= 1e-9, "relative error \(relativeError(x, r))")
            // Δ can be pure rounding (a shrink of a rank-deficient buffer), so it is compared on
            // the scale of the sketched mass, trace(BBᵀ) + Δ.
            let mass = (0..<p).reduce(reference.shrunkMass) { $0 + r[$1, $1] }
            try c.expect(abs(compressed.shrunkMass - reference.shrunkMass) <= 1e-9 * mass,
                         "shrunk mass \(compressed.shrunkMass) vs \(reference.shrunkMass)")
            try c.expect(compressed.ingestedCount == blocks * s, "ingested \(compressed.ingestedCount) columns")
        }
    }

    /// s ≥ b keeps every column unscaled: the same sketch as no compression, bit for bit.
    @Test func widthAtLeastTheBlockIsNoCompression() throws {
        try forAll("s ≥ b is the identity", cases: 10) { c in
            let p = c.size(1...20), rank = c.size(1...4), b = c.size(1...8)
            var sampled = try FrequentDirectionsSketch(dimension: p, rank: rank)
            var plain = try FrequentDirectionsSketch(dimension: p, rank: rank)
            let width = b + c.int(in: 0...3)
            var draws = Xoshiro256StarStar(seed: c.rng.next())
            for t in 0..<c.size(1...6) {
                let g = c.gaussianMatrix(rows: p, columns: b)
                let beta = t == 0 ? 1 : 0.3
                try sampled.ingest(g, weights: nil, forgetting: beta, compression: .sampledColumns(columns: width), using: &draws)
                try plain.ingest(g, weights: nil, forgetting: beta)
            }
            try c.expect(try materialized(sampled) == materialized(plain), "s ≥ b changed the sketch")
        }
    }

    @Test func badInputIsRefusedAndTheGeneratorReplays() throws {
        var unused = Xoshiro256StarStar(seed: 1)
        #expect(throws: LinearAlgebraError.self) {
            try IngestCompression.sampledColumns(columns: 0).coefficients(weights: nil, blockSize: 4, forgetting: 1,
                                                                          using: &unused)
        }
        try forAll("sampled: typed errors, state unchanged, seeded replay", cases: 10) { c in
            let p = c.size(2...20), rank = c.size(1...4), b = c.size(2...8)
            let seed = c.rng.next()
            let compression = IngestCompression.sampledColumns(columns: 1)
            var sketch = try FrequentDirectionsSketch(dimension: p, rank: rank)
            var draws = Xoshiro256StarStar(seed: seed)
            let blocks = (0..<c.size(1...6)).map { _ in c.gaussianMatrix(rows: p, columns: b) }
            for block in blocks { try sketch.ingest(block, weights: nil, forgetting: 0.5, compression: compression, using: &draws) }
            let before = sketch, drawsBefore = draws
            // The whole block is checked, not only the sampled column: one bad entry in one
            // column (which s = 1 samples with probability 1/b) is always refused, before anything
            // is drawn.
            var bad = blocks[0]
            bad[c.int(in: 0...(p - 1)), c.int(in: 0...(b - 1))] = c.bool() ? .nan : -.infinity
            try c.expectThrows("non-finite gradients", matching: { $0 is LinearAlgebraError }) {
                try sketch.ingest(bad, weights: nil, forgetting: 0.5, compression: compression, using: &draws)
            }
            try c.expectThrows("wrong rows", matching: { $0 is LinearAlgebraError }) {
                try sketch.ingest(Matrix(rows: p + 1, columns: b), weights: nil, forgetting: 0.5, compression: compression,
                                  using: &draws)
            }
            try c.expectThrows("negative weight", matching: { $0 is LinearAlgebraError }) {
                try sketch.ingest(blocks[0], weights: [Double](repeating: -1, count: b), forgetting: 0.5,
                                  compression: compression, using: &draws)
            }
            try c.expect(sketch == before, "a refused ingest changed the sketch")
            try c.expect(draws == drawsBefore, "a refused ingest advanced the generator")
            var replay = try FrequentDirectionsSketch(dimension: p, rank: rank)
            var replayDraws = Xoshiro256StarStar(seed: seed)
            for block in blocks {
                try replay.ingest(block, weights: nil, forgetting: 0.5, compression: compression, using: &replayDraws)
            }
            try c.expect(replay == sketch, "same seed and stream gave different sketches")
        }
    }
}
