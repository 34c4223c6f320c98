import Foundation
import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// The builders: drawing Ω, asking for `Y = HΩ` (from a `LinearOperator` or a closure), and
/// what they report; and the distribution of `NystromTestMatrix.draw`.
struct NystromBuilderTests {
    struct SketchFailed: Error, Equatable { let code: Int }

    /// The closure builder draws Ω from the generator exactly as `NystromTestMatrix.draw` does,
    /// calls the closure once with it, and gives the same approximation as building from that Ω
    /// directly; its cost adds the QR of an orthonormalised Gaussian Ω (4pk² − 4k³/3 flops) and
    /// nothing otherwise. Results are compared bit for bit: both runs make the same BLAS calls
    /// on the same data at p ≤ 40, below the sizes at which OpenBLAS splits work between threads.
    @Test func closureBuilderDrawsCallsOnceAndMatchesTheDirectConstruction() throws {
        try forAll("closure builder", cases: 40) { c in
            let p = c.size(1...40), k = c.int(in: 1...p)
            let h = PlantedPSD(&c, dimension: p, eigenvalues: PlantedSpectrum.exponential.values(&c, count: p, scale: 1))
            let columns = drawColumns(&c, dimension: p, rank: k)
            c.note("p=\(p) k=\(k) \(columns)")
            let seed = c.rng.next()
            var rng = Xoshiro256StarStar(seed: seed), reference = Xoshiro256StarStar(seed: seed)
            var seen: [NystromTestMatrix] = []
            let built = try NystromApproximation(dimension: p, rank: k, columns: columns, using: &rng) { omega in
                seen.append(omega)
                return try h.sketch(omega)
            }
            let omega = try NystromTestMatrix.draw(columns, dimension: p, count: k, using: &reference)
            try c.expect(seen == [omega], "the closure was called \(seen.count) times, or with another Ω")
            try c.expect(rng == reference, "the builder used the generator differently from draw")
            let direct = try NystromApproximation(testMatrix: omega, sketch: try h.sketch(omega))
            try c.expect(built.basis == direct.basis && built.eigenvalues == direct.eigenvalues
                         && built.stabilizingShift == direct.stabilizingShift, "builder and direct construction differ")
            let kd = Double(k), qr = 4 * Double(p) * kd * kd - 4 * kd * kd * kd / 3
            let extra = columns == .gaussian(orthonormalized: true) ? qr : 0
            try c.expect(built.cost.operatorApplications == k && built.cost.choleskyAttempts == direct.cost.choleskyAttempts
                         && built.cost.flops == direct.cost.flops + extra, "cost \(built.cost) vs direct \(direct.cost) + \(extra)")
        }
    }

    /// The operator builder makes k products with H: a user operator with only `apply(_:into:)`
    /// is called k times (the default block apply); a `LowRankPlusDiagonal` uses its own block
    /// apply. H = GGᵀ with rank ≤ k, given as `diag(0) + GGᵀ`, is recovered to `a(ν + δ)`
    /// exactly as from the planted sketch (``NystromPropertyTests/lowRankOperatorsAreRecoveredToTheShift()``).
    @Test func operatorBuilderCountsItsProductsAndRecoversLowRankOperators() throws {
        try forAll("operator builder", cases: 40) { c in
            let p = c.size(1...60), r = c.int(in: 1...p), k = c.int(in: r...p)
            let h = PlantedPSD(&c, dimension: p, eigenvalues: PlantedSpectrum.polynomial.values(&c, count: r, scale: c.logUniform(in: 1e-2...1e2)))
            let columns = drawColumns(&c, dimension: p, rank: k)
            c.note("p=\(p) r=\(r) k=\(k) \(columns)")
            let counting = CountingDenseOperator(try h.dense())
            let fromDense = try NystromApproximation(of: counting, rank: k, columns: columns, using: &c.rng)
            try c.expect(counting.applications == k && fromDense.cost.operatorApplications == k,
                         "\(counting.applications) applications, cost \(fromDense.cost.operatorApplications), k = \(k)")
            let seed = c.rng.next()
            var rng = Xoshiro256StarStar(seed: seed), copy = rng
            let lowRank = try LowRankPlusDiagonal(diagonal: [Double](repeating: 0, count: p), factor: h.factor)
            let nystrom = try NystromApproximation(of: lowRank, rank: k, columns: columns, using: &rng)
            let omega = try NystromTestMatrix.draw(columns, dimension: p, count: k, using: &copy)
            let a = try h.amplification(omega)
            let tolerance = a * (nystrom.stabilizingShift + nystromRoundingBudget(h, rank: k))
            let values = try SymmetricEigendecomposition(h.accurateDifference(nystrom)).values
            let error = max(-values.first!, values.last!)
            try c.expect(error <= tolerance, "‖Ĥ − H‖ = \(error) above a(ν + δ) = \(tolerance), a = \(a)")
        }
    }

    /// A failing closure's error reaches the caller unchanged; a sketch of the wrong shape, or
    /// a rank outside 1…p, is a typed error, the latter before the closure is called or the
    /// generator used.
    @Test func builderErrors() throws {
        var rng = Xoshiro256StarStar(seed: 11)
        #expect(throws: SketchFailed(code: 7)) {
            try NystromApproximation(dimension: 5, rank: 2, using: &rng) { _ in throw SketchFailed(code: 7) }
        }
        #expect(throws: LinearAlgebraError.self) {
            try NystromApproximation(dimension: 5, rank: 2, using: &rng) { _ in Matrix(rows: 5, columns: 3) }
        }
        let before = rng
        var calls = 0
        for k in [0, -1, 6] {
            do {
                _ = try NystromApproximation(dimension: 5, rank: k, columns: .coordinates, using: &rng) { omega in
                    calls += 1
                    return omega.materialized()
                }
                Issue.record("rank \(k) was accepted")
            } catch let error as LinearAlgebraError {
                guard case .invalidArgument(let operation, _) = error else { Issue.record("rank \(k): \(error)"); continue }
                #expect(operation == "NystromApproximation")
            }
        }
        #expect(calls == 0 && rng == before, "a refused rank called the closure or used the generator")
        let op = CountingDenseOperator(.identity(4))
        #expect(throws: LinearAlgebraError.self) { try NystromApproximation(of: op, rank: 5, using: &rng) }
        #expect(op.applications == 0)
    }

    /// Coordinates are k distinct indices in increasing order, each included with probability
    /// k/p: over N draws an index's count is Binomial(N, k/p), checked within 5 standard
    /// deviations (a false alarm has probability below 6·10⁻⁷ per index, by the normal
    /// approximation). Gaussian columns are orthonormal when asked (`|ΩᵀΩ − I| ≤ 30·p·eps`, the
    /// QR tests' ratio) and otherwise standard normal draws (mean square within 5 standard errors
    /// of 1: Var(g²) = 2).
    @Test func drawnTestMatricesHaveTheRequestedDistribution() throws {
        var rng = Xoshiro256StarStar(seed: 2023)
        let (p, k, n) = (12, 4, 3000)
        var counts = [Int](repeating: 0, count: p)
        for _ in 0..<n {
            let omega = try NystromTestMatrix.draw(.coordinates, dimension: p, count: k, using: &rng)
            guard case .coordinates(let indices, let dimension) = omega else { Issue.record("not coordinates"); return }
            #expect(dimension == p && indices.count == k && indices == indices.sorted() && Set(indices).count == k)
            for i in indices { counts[i] += 1 }
        }
        let q = Double(k) / Double(p), sd = (Double(n) * q * (1 - q)).squareRoot()
        for (i, count) in counts.enumerated() {
            #expect(abs(Double(count) - Double(n) * q) <= 5 * sd, "index \(i) drawn \(count) times, expected \(Double(n) * q) ± \(sd)")
        }
        let all = try NystromTestMatrix.draw(.coordinates, dimension: 7, count: 7, using: &rng)
        #expect(all == .coordinates(indices: Array(0..<7), dimension: 7))

        let orthonormal = try NystromTestMatrix.draw(.gaussian(), dimension: 50, count: 20, using: &rng).materialized()
        var gram = Matrix(rows: 20, columns: 20)
        try BLAS.syrk(.transpose, orthonormal, &gram)
        #expect(maxAbsDifference(gram, .identity(20)) <= 30 * 50 * eps)
        let raw = try NystromTestMatrix.draw(.gaussian(orthonormalized: false), dimension: 200, count: 25, using: &rng).materialized()
        let meanSquare = raw.storage.reduce(0) { $0 + $1 * $1 } / Double(raw.storage.count)
        #expect(abs(meanSquare - 1) <= 5 * (2.0 / Double(raw.storage.count)).squareRoot(), "mean square \(meanSquare)")
    }
}
