import Foundation
import NHGDLinearAlgebra
import NHGDSketches
import NHGDTestSupport
import Testing

/// Every sketch type, each with the compression its stream is fed through, as existentials
/// (for the shared contracts).
private func allSketches(dimension p: Int, rank: Int) throws -> [(sketch: any FisherSketch, compression: IngestCompression)] {
    [
        (try FrequentDirectionsSketch(dimension: p, rank: rank), .none),
        (try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .scalar, shrinkMethod: .svd), .none),
        (try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .residualDiagonal), .none),
        (try FrequentDirectionsSketch(dimension: p, rank: rank), .gaussian(columns: 2)),
        (try WindowSketch(dimension: p, capacity: rank), .none),
        (try DiagonalFisher(dimension: p), .none),
        (try DenseFisher(dimension: p), .none),
    ]
}

private func ingestAll(_ sketch: inout some FisherSketch, _ events: [GradientBlockEvent],
                       compression: IngestCompression = .none, seed: UInt64 = 7) throws {
    var rng = Xoshiro256StarStar(seed: seed)
    for e in events {
        try sketch.ingest(e.gradients, weights: e.weights, forgetting: e.forgetting, compression: compression, using: &rng)
    }
}

/// Which `LinearAlgebraError` case an error is, for matching.
private func errorCase(_ error: any Error) -> String {
    guard let e = error as? LinearAlgebraError else { return "not a LinearAlgebraError: \(error)" }
    switch e {
    case .dimensionMismatch: return "dimensionMismatch"
    case .nonFinite: return "nonFinite"
    case .invalidArgument: return "invalidArgument"
    default: return "\(e)"
    }
}

/// A sketch's state as bit patterns: the estimate it hands out (`d` and `U` of
/// `lowRankPlusDiagonal(adding: nil)`), its counts, error bound and byte count, and each type's
/// public state (FD: filled columns, shrinks, Δ; window: filled columns, evicted mass; the
/// diagonal and dense Fisher: their arrays).
///
/// The synthesized `==` compares doubles with `==`, which identifies −0.0 with +0.0, so a call
/// that flipped the sign of a zero would pass it; "unchanged" is checked with both.
///
/// The dense Fisher's estimate is left out: it is an eigendecomposition (`dsyevd`), recomputed
/// on every call, and OpenBLAS's kernels need not round the same way twice (their blocking can
/// depend on the buffers' alignment and on free threads), so its rank and factor may differ in
/// the last bits, and the rank even by one where eigenvalues sit at the rounding level. That
/// happened once in a full run (base seed 18, AVX-512 kernels) while the stored matrix was
/// unchanged; the matrix itself is compared bit for bit below. The other estimates are scaled
/// copies of stored state, exact whatever the kernel.
private func stateBits(_ sketch: some FisherSketch) throws -> [UInt64] {
    var bits = [UInt64(sketch.ingestedCount), sketch.spectralErrorBound.bitPattern, UInt64(sketch.byteCount)]
    if !(sketch is DenseFisher) {
        let estimate = try sketch.lowRankPlusDiagonal(adding: nil)
        bits += [UInt64(estimate.dimension), UInt64(estimate.rank)]
        bits += estimate.diagonal.map(\.bitPattern) + estimate.factor.storage.map(\.bitPattern)
    }
    switch sketch {
    case let fd as FrequentDirectionsSketch:
        bits += [UInt64(fd.filledColumns), UInt64(fd.shrinkCount), fd.shrunkMass.bitPattern]
    case let window as WindowSketch:
        bits += [UInt64(window.filledColumns), window.evictedMass.bitPattern]
    case let diagonal as DiagonalFisher:
        bits += diagonal.diagonal.map(\.bitPattern)
    case let dense as DenseFisher:
        bits += dense.matrix.storage.map(\.bitPattern)
    default:
        break
    }
    return bits
}

/// `sketch == before` and the same ``stateBits(_:)``: unchanged bit for bit.
private func expectUnchanged<S: FisherSketch & Equatable>(
    _ c: PropertyCase, _ sketch: S, _ before: S, bits: [UInt64], _ what: String
) throws {
    try c.expect(sketch == before && (try stateBits(sketch)) == bits, "\(S.self): \(what) changed the sketch")
}

/// One bad `ingest` call: its name, block, weights, β, and the `LinearAlgebraError` case it must get.
private typealias BadIngest = (name: String, gradients: Matrix, weights: [Double]?, beta: Double, error: String)

/// Bad blocks for a sketch of dimension p, each with exactly one fault, so the expected case does
/// not depend on the order of the checks: rows p ± 1 (`dimensionMismatch`), NaN/±∞ in the
/// gradients or weights (`nonFinite`), a negative weight, an empty block, and β outside (0, 1]
/// including ±∞ and NaN (`invalidArgument`: β is a domain argument, as the protocol documents).
private func badIngests(dimension p: Int, _ c: inout PropertyCase) -> [BadIngest] {
    let good = c.gaussianMatrix(rows: p, columns: 3)
    var withNaN = good
    withNaN[c.int(in: 0...(p - 1)), c.int(in: 0...2)] = [Double.nan, .infinity, -.infinity][c.int(in: 0...2)]
    let w = c.int(in: 0...2)
    func weights(_ value: Double) -> [Double] { var x = [1.0, 1, 1]; x[w] = value; return x }
    return [
        ("p + 1 rows", c.gaussianMatrix(rows: p + 1, columns: 3), nil, 0.5, "dimensionMismatch"),
        ("p − 1 rows", c.gaussianMatrix(rows: p - 1, columns: 3), nil, 0.5, "dimensionMismatch"),
        ("NaN/∞ gradient", withNaN, nil, 0.5, "nonFinite"),
        ("negative weight", good, weights(-c.logUniform(in: 1e-300...1e3)), 0.5, "invalidArgument"),
        ("weight −(least subnormal)", good, weights(-.leastNonzeroMagnitude), 0.5, "invalidArgument"),
        ("+∞ weight", good, weights(.infinity), 0.5, "nonFinite"),
        ("−∞ weight", good, weights(-.infinity), 0.5, "nonFinite"),
        ("NaN weight", good, weights(.nan), 0.5, "nonFinite"),
        ("weights of the wrong length", good, [1, 1], 0.5, "dimensionMismatch"),
        ("β = 0", good, nil, 0, "invalidArgument"),
        ("β = −0.0", good, nil, -0.0, "invalidArgument"),
        ("β < 0", good, nil, -c.logUniform(in: 1e-6...1), "invalidArgument"),
        ("β > 1", good, nil, 1.5, "invalidArgument"),
        ("β = 1 + ulp", good, nil, 1.0.nextUp, "invalidArgument"),
        ("β = +∞", good, nil, .infinity, "invalidArgument"),
        ("β = −∞", good, nil, -.infinity, "invalidArgument"),
        ("β = NaN", good, nil, .nan, "invalidArgument"),
        ("empty block", Matrix(rows: p, columns: 0), nil, 0.5, "invalidArgument"),
    ]
}

/// Bad calls of the core entry point `ingest(_:columns:forgetting:)` (pre-scaled columns):
/// rows p ± 1 and a range outside the block (`dimensionMismatch`), NaN/±∞ in the range
/// (`nonFinite`), β outside (0, 1] (`invalidArgument`).
private func badColumnIngests(dimension p: Int, _ c: inout PropertyCase)
    -> [(name: String, block: Matrix, columns: Range<Int>, beta: Double, error: String)] {
    let good = c.gaussianMatrix(rows: p, columns: 3)
    var withNaN = good
    withNaN[c.int(in: 0...(p - 1)), c.int(in: 0...2)] = [Double.nan, .infinity, -.infinity][c.int(in: 0...2)]
    return [
        ("columns of p + 1 rows", c.gaussianMatrix(rows: p + 1, columns: 3), 0..<3, 0.5, "dimensionMismatch"),
        ("columns of p − 1 rows", c.gaussianMatrix(rows: p - 1, columns: 3), 0..<3, 0.5, "dimensionMismatch"),
        ("a range past the block", good, 1..<4, 0.5, "dimensionMismatch"),
        ("NaN/∞ column", withNaN, 0..<3, 0.5, "nonFinite"),
        ("columns, β = 0", good, 0..<3, 0, "invalidArgument"),
        ("columns, β > 1", good, 0..<3, 1.5, "invalidArgument"),
        ("columns, β = NaN", good, 0..<3, .nan, "invalidArgument"),
    ]
}

/// Feeds bad input and checks the typed error and that the sketch is bit-for-bit unchanged.
private func checkRejectsBadInput<S: FisherSketch & Equatable>(_ sketch: inout S, _ c: inout PropertyCase) throws {
    let p = sketch.dimension
    let before = sketch, bits = try stateBits(sketch)
    for bad in badIngests(dimension: p, &c) {
        try c.expectThrows("\(S.self) \(bad.name)", matching: { errorCase($0) == bad.error }) {
            try sketch.ingest(bad.gradients, weights: bad.weights, forgetting: bad.beta)
        }
        try expectUnchanged(c, sketch, before, bits: bits, bad.name)
    }
    for bad in badColumnIngests(dimension: p, &c) {
        try c.expectThrows("\(S.self) \(bad.name)", matching: { errorCase($0) == bad.error }) {
            try sketch.ingest(bad.block, columns: bad.columns, forgetting: bad.beta)
        }
        try expectUnchanged(c, sketch, before, bits: bits, bad.name)
    }
    for length in [p - 1, p + 1] {
        try c.expectThrows("\(S.self) extraDiagonal of length \(length)", matching: { errorCase($0) == "dimensionMismatch" }) {
            try sketch.lowRankPlusDiagonal(adding: [Double](repeating: 1, count: length))
        }
    }
    var extra = [Double](repeating: 1, count: p)
    extra[c.int(in: 0...(p - 1))] = .nan
    try c.expectThrows("\(S.self) extraDiagonal with NaN", matching: { errorCase($0) == "nonFinite" }) {
        try sketch.lowRankPlusDiagonal(adding: extra)
    }
    try expectUnchanged(c, sketch, before, bits: bits, "lowRankPlusDiagonal(adding:)")
}

/// The same bad blocks through the compressing entry point
/// `ingest(_:weights:forgetting:compression:using:)`, with a valid Gaussian or sampled width, and
/// a non-positive width with a valid block; all refused, the sketch unchanged bit for bit and
/// the generator not advanced (nothing is drawn before the block is accepted).
private func checkCompressedIngestRejectsBadInput<S: FisherSketch & Equatable>(_ sketch: inout S,
                                                                              _ c: inout PropertyCase) throws {
    let p = sketch.dimension
    let before = sketch, bits = try stateBits(sketch)
    var rng = Xoshiro256StarStar(seed: c.rng.next())
    let start = rng
    for bad in badIngests(dimension: p, &c) {
        let width = c.int(in: 1...4)
        let compression: IngestCompression = c.bool() ? .gaussian(columns: width) : .sampledColumns(columns: width)
        try c.expectThrows("\(compression) \(bad.name)", matching: { errorCase($0) == bad.error }) {
            try sketch.ingest(bad.gradients, weights: bad.weights, forgetting: bad.beta, compression: compression,
                              using: &rng)
        }
        try expectUnchanged(c, sketch, before, bits: bits, "compressed \(bad.name)")
    }
    let good = c.gaussianMatrix(rows: p, columns: c.int(in: 1...4))
    for width in [0, -1, -c.int(in: 2...1_000), Int.min] {
        for compression in [IngestCompression.gaussian(columns: width), .sampledColumns(columns: width)] {
            try c.expectThrows("\(compression)", matching: { errorCase($0) == "invalidArgument" }) {
                try sketch.ingest(good, weights: nil, forgetting: 0.5, compression: compression, using: &rng)
            }
        }
        try expectUnchanged(c, sketch, before, bits: bits, "compressed width \(width)")
    }
    try c.expect(rng == start, "a refused ingest advanced the generator")
}

@Suite("Sketch contracts")
struct SketchContractTests {
    @Test func badInputGetsATypedErrorAndLeavesTheSketchUnchanged() throws {
        try forAll("bad input: typed error, sketch unchanged", cases: 15) { c in
            let p = c.size(1...30), rank = c.size(1...6)
            let events = c.gradientStream(dimension: p, blocks: c.size(1...8), kind: .isotropic)
            c.note("p=\(p) ℓ=\(rank)")
            var fd = try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .residualDiagonal)
            var compressed = try FrequentDirectionsSketch(dimension: p, rank: rank)
            var sampled = try FrequentDirectionsSketch(dimension: p, rank: rank)
            var window = try WindowSketch(dimension: p, capacity: rank)
            var diagonal = try DiagonalFisher(dimension: p)
            var dense = try DenseFisher(dimension: p)
            try ingestAll(&fd, events); try ingestAll(&compressed, events, compression: .gaussian(columns: 2), seed: 3)
            try ingestAll(&sampled, events, compression: .sampledColumns(columns: 2), seed: 5)
            try ingestAll(&window, events); try ingestAll(&diagonal, events); try ingestAll(&dense, events)
            try checkRejectsBadInput(&fd, &c)
            try checkRejectsBadInput(&compressed, &c)
            try checkRejectsBadInput(&sampled, &c)
            try checkRejectsBadInput(&window, &c)
            try checkRejectsBadInput(&diagonal, &c)
            try checkRejectsBadInput(&dense, &c)
            try checkCompressedIngestRejectsBadInput(&fd, &c)
            try checkCompressedIngestRejectsBadInput(&window, &c)
            try checkCompressedIngestRejectsBadInput(&dense, &c)
            // Merging a sketch of another configuration is refused without a change.
            let before = fd, bits = try stateBits(fd)
            let other = try FrequentDirectionsSketch(dimension: p, rank: rank + 1, compensation: .residualDiagonal)
            try c.expectThrows("merge of another rank", matching: { errorCase($0) == "invalidArgument" }) { try fd.merge(other) }
            let plain = try FrequentDirectionsSketch(dimension: p, rank: rank)
            try c.expectThrows("merge of another compensation", matching: { errorCase($0) == "invalidArgument" }) { try fd.merge(plain) }
            let wide = try FrequentDirectionsSketch(dimension: p + 1, rank: rank, compensation: .residualDiagonal)
            try c.expectThrows("merge of another dimension", matching: { errorCase($0) == "dimensionMismatch" }) { try fd.merge(wide) }
            try expectUnchanged(c, fd, before, bits: bits, "a refused merge")
        }
        // Construction: a non-positive rank, capacity, dimension, interval or width is an
        // `invalidArgument` (checked before anything is sized, so Int.min cannot overflow 2ℓ).
        for bad in [0, -1, -7, Int.min] {
            for (name, make) in [
                ("FD rank", { _ = try FrequentDirectionsSketch(dimension: 4, rank: bad) }),
                ("FD rank (.svd, .scalar)", { _ = try FrequentDirectionsSketch(dimension: 4, rank: bad, compensation: .scalar, shrinkMethod: .svd) }),
                ("FD rank (.residualDiagonal)", { _ = try FrequentDirectionsSketch(dimension: 4, rank: bad, compensation: .residualDiagonal) }),
                ("FD dimension", { _ = try FrequentDirectionsSketch(dimension: bad, rank: 2) }),
                ("FD interval", { _ = try FrequentDirectionsSketch(dimension: 4, rank: 2, shrinkMethod: .gramTrick(reorthogonalizationInterval: bad)) }),
                ("Gaussian width", { try IngestCompression.gaussian(columns: bad).validate(operation: "test") }),
                ("sampled width", { try IngestCompression.sampledColumns(columns: bad).validate(operation: "test") }),
                ("window capacity", { _ = try WindowSketch(dimension: 4, capacity: bad) }),
                ("window dimension", { _ = try WindowSketch(dimension: bad, capacity: 2) }),
                ("diagonal dimension", { _ = try DiagonalFisher(dimension: bad) }),
                ("dense dimension", { _ = try DenseFisher(dimension: bad) }),
            ] as [(String, () throws -> Void)] {
                var thrown: (any Error)?
                do { try make() } catch { thrown = error }
                #expect(thrown.map(errorCase) == "invalidArgument", "\(name) \(bad): got \(thrown.map { "\($0)" } ?? "no error")")
            }
        }
    }

    /// The issue's case: rank 1 in dimension 4, three columns, then five with one scaled by
    /// 1e200. It used to throw `nonFinite` from dsyevd after the buffer, the shrink count and the
    /// bound had changed, and every later ingest failed. Now a column beyond
    /// `largestColumnNorm` is `invalidArgument` before anything changes, the sketch keeps
    /// working, and large-but-accepted (1e130) and tiny (1e−300) magnitudes keep the FD bound,
    /// in every compensation mode and under forgetting.
    @Test func extremeMagnitudesAreRefusedBeforeAnyChangeOrKeepTheBound() throws {
        for compensation in [DiagonalCompensation.none, .scalar, .residualDiagonal] {
            var sketch = try FrequentDirectionsSketch(dimension: 4, rank: 1, compensation: compensation)
            var rng = Xoshiro256StarStar(seed: 11)
            func block(_ columns: Int, scale: Double = 1, scaled column: Int? = nil) -> Matrix {
                var m = Matrix(rows: 4, columns: columns)
                for j in 0..<columns { for i in 0..<4 { m[i, j] = Double.random(in: -1...1, using: &rng) } }
                if let column { for i in 0..<4 { m[i, column] *= scale } }
                return m
            }
            try sketch.ingest(columns: block(3), forgetting: 0.5)
            for scale in [1e200, 1e150, 1e300] {
                let before = sketch, bits = try stateBits(sketch)
                #expect(throws: LinearAlgebraError.self, "\(compensation) \(scale)") {
                    try sketch.ingest(columns: block(5, scale: scale, scaled: 2), forgetting: 0.5)
                }
                let after = try stateBits(sketch)
                #expect(sketch == before && after == bits, "\(compensation) \(scale): the sketch changed")
            }
            try sketch.ingest(columns: block(5), forgetting: 0.5)   // still works
            // Accepted extremes: the exact decayed Fisher of the same columns stays within the bound.
            for scale in [1e130, 1e-300] {
                var fd = try FrequentDirectionsSketch(dimension: 4, rank: 1, compensation: compensation)
                var exact = [Double](repeating: 0, count: 16)
                for _ in 0..<6 {
                    let b = block(3, scale: scale, scaled: 1)
                    try fd.ingest(columns: b, forgetting: 0.3)
                    for k in 0..<16 { exact[k] *= 0.7 }
                    for j in 0..<3 { for r in 0..<4 { for q in 0..<4 { exact[r + 4 * q] += b[r, j] * b[q, j] } } }
                }
                let estimate = try fd.lowRankPlusDiagonal(adding: nil).materialized()
                var difference = try Matrix(rows: 4, columns: 4, storage: exact)
                for k in 0..<16 { difference.storage[k] -= estimate.storage[k] }
                let error = try SymmetricEigendecomposition(difference).values.map(abs).max()!
                let mass = exact.enumerated().filter { $0.offset % 5 == 0 }.map(\.element).reduce(0, +)
                #expect(error.isFinite && error <= fd.spectralErrorBound + 1e-12 * mass,
                        "\(compensation) \(scale): error \(error) > bound \(fd.spectralErrorBound)")
            }
        }
    }

    @Test func woodburySolveEqualsDenseSolveOfTheMaterialisedSketch() throws {
        try forAll("Woodbury solve on every sketch = dense solve", cases: 20) { c in
            let p = c.size(1...50), rank = c.size(1...8)
            let events = c.gradientStream(dimension: p, blocks: c.size(1...12), kind: StreamKind.allCases[c.int(in: 0...2)])
            var reference = DecayedStreamReference(dimension: p)
            for e in events { reference.ingest(e) }
            // Regulariser curvature and damping of the Fisher's own scale, down to 10⁻³ of it.
            let scale = max(reference.frobeniusSquared / Double(p), 1e-12)
            let extra = (0..<p).map { _ in scale * c.logUniform(in: 1e-3...1) }
            let damping = scale * c.logUniform(in: 1e-3...1)
            let v = c.vector(count: p)
            c.note("p=\(p) ℓ=\(rank) λ=\(damping)")
            for (var sketch, compression) in try allSketches(dimension: p, rank: rank) {
                try ingestAll(&sketch, events, compression: compression)
                var operator_ = try sketch.lowRankPlusDiagonal(adding: extra)
                let x = try operator_.solve(v, damping: damping, refinementSteps: 1)
                var a = try operator_.materialized()
                for i in 0..<p { a[i, i] += damping }
                let xr = try denseSolve(a, v)
                // With one refinement step Woodbury is backward stable, so both solutions have
                // forward error ≲ γ_p·κ(A); 16 covers the constants of the two methods.
                let kappa = try conditionNumber(a)
                let tolerance = 16 * Double(p + operator_.rank) * Double.ulpOfOne * kappa
                let error = relativeError(x, xr)
                try c.expect(error <= tolerance, "\(type(of: sketch)): relative error \(error) > \(tolerance) (κ = \(kappa))")
            }
        }
    }

    @Test func compressedIngestIsUnbiased() throws {
        try forAll("E[(GΩ)(GΩ)ᵀ] = G Gᵀ", cases: 6) { c in
            let p = c.size(1...12), b = c.size(1...16), s = c.int(in: 1...4)
            let draws = 800
            let g = c.gaussianMatrix(rows: p, columns: b)
            let weights = (0..<b).map { _ in c.double(in: 0...2) }
            c.note("p=\(p) b=\(b) s=\(s) draws=\(draws)")
            // Target Σ = (1/b) G diag(w) Gᵀ (β = 1).
            var sigma = Matrix(rows: p, columns: p)
            for j in 0..<b { for col in 0..<p { for row in 0..<p {
                sigma[row, col] += weights[j] / Double(b) * g[row, j] * g[col, j]
            } } }
            // A rank large enough that nothing is shrunk: the sketch is exactly A_blk Ω Ωᵀ A_blkᵀ.
            var sketch = try FrequentDirectionsSketch(dimension: p, rank: s)
            var mean = Matrix(rows: p, columns: p)
            for _ in 0..<draws {
                try sketch.ingest(g, weights: weights, forgetting: 1, compression: .gaussian(columns: s), using: &c.rng)
                let x = try materialized(sketch)
                for i in 0..<mean.storage.count { mean.storage[i] += x.storage[i] / Double(draws) }
            }
            // X = (1/s) Σ_k y_k y_kᵀ, y_k = A_blk z_k ~ N(0, Σ): Var X_ij = (Σ_ii Σ_jj + Σ_ij²)/s, and
            // the mean of R draws has variance (Σ_ii Σ_jj + Σ_ij²)/(R s). Each entry is an average of
            // R·s ≥ 800 independent products of Gaussians (sub-exponential), so the CLT applies;
            // 7 standard deviations make a false failure over ≤ 144 entries and 6 cases < 10⁻⁹.
            for col in 0..<p { for row in 0..<p {
                let sd = ((sigma[row, row] * sigma[col, col] + sigma[row, col] * sigma[row, col]) / Double(draws * s)).squareRoot()
                try c.expect(abs(mean[row, col] - sigma[row, col]) <= 7 * sd + 1e-14 * (sigma[row, row] + sigma[col, col]),
                             "entry (\(row), \(col)): mean \(mean[row, col]) vs \(sigma[row, col]), sd \(sd)")
            } }
        }
    }

    /// Compression draws from the caller's generator only: the same seed and stream give the same
    /// sketch bit for bit, and `reset` returns a sketch to its initial state.
    @Test func compressionReplaysFromTheCallersGeneratorAndResetEmpties() throws {
        try forAll("compression with a seeded generator is deterministic", cases: 10) { c in
            let p = c.size(2...30), rank = c.size(1...6)
            let events = c.gradientStream(dimension: p, blocks: c.size(1...10), kind: .isotropic)
            let seed = c.rng.next()
            var first = try FrequentDirectionsSketch(dimension: p, rank: rank)
            let fresh = first
            var second = first
            try ingestAll(&first, events, compression: .gaussian(columns: 2), seed: seed)
            try ingestAll(&second, events, compression: .gaussian(columns: 2), seed: seed)
            try c.expect(first == second, "same seed and stream gave different sketches")
            first.reset()
            try c.expect(first.ingestedCount == 0 && first.shrunkMass == 0 && (try materialized(first)) == (try materialized(fresh)),
                         "reset did not return to the initial state")
        }
    }
}
