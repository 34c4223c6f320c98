import Foundation
import NHGDLinearAlgebra
import NHGDSketches
import NHGDTestSupport
import Testing

/// Every sketch type, built on one stream, as an existential (for the shared contracts).
private func allSketches(dimension p: Int, rank: Int) throws -> [any FisherSketch] {
    [
        try FrequentDirectionsSketch(dimension: p, rank: rank),
        try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .scalar, shrinkMethod: .svd),
        try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .residualDiagonal),
        try FrequentDirectionsSketch(dimension: p, rank: rank, compression: .gaussian(columns: 2), seed: 7),
        try WindowSketch(dimension: p, capacity: rank),
        try DiagonalFisher(dimension: p),
        try DenseFisher(dimension: p),
    ]
}

private func ingestAll(_ sketch: inout some FisherSketch, _ events: [GradientBlockEvent]) throws {
    for e in events { try sketch.ingest(e.gradients, weights: e.weights, forgetting: e.forgetting) }
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

/// Feeds bad input and checks the typed error and that the sketch is bit-for-bit unchanged.
private func checkRejectsBadInput<S: FisherSketch & Equatable>(_ sketch: inout S, _ c: inout PropertyCase) throws {
    let p = sketch.dimension
    let good = c.gaussianMatrix(rows: p, columns: 3)
    var withNaN = good
    withNaN[c.int(in: 0...(p - 1)), c.int(in: 0...2)] = c.bool() ? .nan : -.infinity
    let cases: [(String, Matrix, [Double]?, Double, String)] = [
        ("wrong length", c.gaussianMatrix(rows: p + 1, columns: 3), nil, 0.5, "dimensionMismatch"),
        ("NaN/∞ gradient", withNaN, nil, 0.5, "nonFinite"),
        ("negative weight", good, [1, -0.5, 1], 0.5, "invalidArgument"),
        ("infinite weight", good, [1, .infinity, 1], 0.5, "nonFinite"),
        ("NaN weight", good, [.nan, 1, 1], 0.5, "nonFinite"),
        ("weights of the wrong length", good, [1, 1], 0.5, "dimensionMismatch"),
        ("β = 0", good, nil, 0, "invalidArgument"),
        ("β > 1", good, nil, 1.5, "invalidArgument"),
        ("β = NaN", good, nil, .nan, "invalidArgument"),
        ("empty block", Matrix(rows: p, columns: 0), nil, 0.5, "invalidArgument"),
    ]
    let before = sketch
    for (name, g, w, beta, expected) in cases {
        try c.expectThrows("\(S.self) \(name)", matching: { errorCase($0) == expected }) {
            try sketch.ingest(g, weights: w, forgetting: beta)
        }
        try c.expect(sketch == before, "\(S.self): \(name) changed the sketch")
    }
    try c.expectThrows("\(S.self) extraDiagonal of the wrong length", matching: { errorCase($0) == "dimensionMismatch" }) {
        try sketch.lowRankPlusDiagonal(adding: [Double](repeating: 1, count: p + 1))
    }
}

@Suite("Sketch contracts")
struct SketchContractTests {
    @Test func badInputGetsATypedErrorAndLeavesTheSketchUnchanged() throws {
        try forAll("bad input: typed error, sketch unchanged", cases: 15) { c in
            let p = c.size(1...30), rank = c.size(1...6)
            let events = c.gradientStream(dimension: p, blocks: c.size(1...8), kind: .isotropic)
            c.note("p=\(p) ℓ=\(rank)")
            var fd = try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: .residualDiagonal)
            var compressed = try FrequentDirectionsSketch(dimension: p, rank: rank, compression: .gaussian(columns: 2), seed: 3)
            var window = try WindowSketch(dimension: p, capacity: rank)
            var diagonal = try DiagonalFisher(dimension: p)
            var dense = try DenseFisher(dimension: p)
            try ingestAll(&fd, events); try ingestAll(&compressed, events); try ingestAll(&window, events)
            try ingestAll(&diagonal, events); try ingestAll(&dense, events)
            try checkRejectsBadInput(&fd, &c)
            try checkRejectsBadInput(&compressed, &c)
            try checkRejectsBadInput(&window, &c)
            try checkRejectsBadInput(&diagonal, &c)
            try checkRejectsBadInput(&dense, &c)
            // Merging a sketch of another configuration is refused without a change.
            let before = fd
            let other = try FrequentDirectionsSketch(dimension: p, rank: rank + 1, compensation: .residualDiagonal)
            try c.expectThrows("merge of another rank", matching: { errorCase($0) == "invalidArgument" }) { try fd.merge(other) }
            let wide = try FrequentDirectionsSketch(dimension: p + 1, rank: rank, compensation: .residualDiagonal)
            try c.expectThrows("merge of another dimension", matching: { errorCase($0) == "dimensionMismatch" }) { try fd.merge(wide) }
            try c.expect(fd == before, "a refused merge changed the sketch")
            try c.expectThrows("compressed width 0", matching: { errorCase($0) == "invalidArgument" }) {
                try fd.ingest(events[0].gradients, weights: nil, forgetting: 0.5, compressingTo: 0, using: &c.rng)
            }
            try c.expect(fd == before, "a refused compressed ingest changed the sketch")
        }
        for (name, make) in [
            ("rank 0", { _ = try FrequentDirectionsSketch(dimension: 4, rank: 0) }),
            ("dimension 0", { _ = try FrequentDirectionsSketch(dimension: 0, rank: 2) }),
            ("interval 0", { _ = try FrequentDirectionsSketch(dimension: 4, rank: 2, shrinkMethod: .gramTrick(reorthogonalizationInterval: 0)) }),
            ("width 0", { _ = try FrequentDirectionsSketch(dimension: 4, rank: 2, compression: .gaussian(columns: 0)) }),
            ("capacity 0", { _ = try WindowSketch(dimension: 4, capacity: 0) }),
        ] as [(String, () throws -> Void)] {
            #expect(throws: LinearAlgebraError.self, "\(name) must be refused") { try make() }
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
            for var sketch in try allSketches(dimension: p, rank: rank) {
                try ingestAll(&sketch, events)
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
                try sketch.ingest(g, weights: weights, forgetting: 1, compressingTo: s, using: &c.rng)
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

    @Test func heldGeneratorReplaysAndResets() throws {
        try forAll("compression with a held seeded generator is deterministic", cases: 10) { c in
            let p = c.size(2...30), rank = c.size(1...6)
            let events = c.gradientStream(dimension: p, blocks: c.size(1...10), kind: .isotropic)
            let seed = c.rng.next()
            var first = try FrequentDirectionsSketch(dimension: p, rank: rank, compression: .gaussian(columns: 2), seed: seed)
            let fresh = first
            var second = first
            try ingestAll(&first, events)
            try ingestAll(&second, events)
            try c.expect(first == second, "same seed and stream gave different sketches")
            first.reset()
            try ingestAll(&first, events)
            try c.expect(first == second, "reset did not reseed the generator")
            first.reset()
            try c.expect(first.ingestedCount == 0 && first.shrunkMass == 0 && (try materialized(first)) == (try materialized(fresh)),
                         "reset did not return to the initial state")
        }
    }
}
