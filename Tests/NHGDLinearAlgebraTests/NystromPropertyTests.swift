import Foundation
import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// `NystromApproximation` against planted PSD operators `H = G Gᵀ` (``PlantedPSD``) over random
/// p, k, spectra (polynomial and exponential decay, log-spaced over condition numbers up to
/// 1e12, steps) and column choices, measured with the doubled-precision difference
/// ``PlantedPSD/accurateDifference(_:)`` so that the reference adds no rounding of its own.
///
/// Tolerances are the exact-arithmetic statements of ``NystromApproximation``'s documentation,
/// with ν the shift actually used, plus the rounding budget δ = 8·(p + k + 4)·eps·‖H‖
/// (``nystromRoundingBudget(_:rank:)``, where its model is stated and was checked):
/// - Löwner order: `0 ⪯ Ĥ ⪯ H + νI` in exact arithmetic, so `λ_min(H − Ĥ) ≥ −(ν + δ)`;
/// - recovery: for rank(H) = r ≤ k with QᵀΩ of full row rank, `‖Ĥ − H‖₂ ≤ ν·a` in exact
///   arithmetic with `a = 1 + ‖Q⊥ᵀΩ‖²‖(QᵀΩ)⁺‖²` (``PlantedPSD/amplification(_:)``), so
///   `‖Ĥ − H‖₂ ≤ a·(ν + δ)`; for k = p, a ≤ 2 (QᵀΩ then has orthonormal rows).
struct NystromPropertyTests {
    /// Builds the approximation of `h` from a test matrix of kind `columns`, noting the shift.
    func build(_ c: inout PropertyCase, _ h: PlantedPSD, rank k: Int, columns: NystromColumns)
        throws -> (NystromApproximation, NystromTestMatrix) {
        let omega = try NystromTestMatrix.draw(columns, dimension: h.dimension, count: k, using: &c.rng)
        let nystrom = try NystromApproximation(testMatrix: omega, sketch: try h.sketch(omega))
        c.note("ν = \(nystrom.stabilizingShift) = \(nystrom.stabilizingShift / h.norm)·‖H‖, "
               + "\(nystrom.cost.choleskyAttempts) Cholesky attempt(s)")
        return (nystrom, omega)
    }

    func eigenvalues(_ a: Matrix) throws -> [Double] { try SymmetricEigendecomposition(a).values }

    /// `0 ⪯ Ĥ ⪯ H` up to the shift and rounding, for every column choice and spectrum, and what
    /// it implies for the eigenvalues (Weyl): `0 ≤ λ̂_j ≤ λ_j + ν + δ`. Λ is descending, U has
    /// orthonormal columns (``NystromApproximation/_checkInvariants()`` runs in debug builds).
    @Test func nystromLiesBetweenZeroAndH() throws {
        try forAll("0 ⪯ Ĥ ⪯ H + νI", cases: 80) { c in
            let p = c.size(2...100), k = c.int(in: 1...p)
            let spectrum = PlantedSpectrum.allCases[c.int(in: 0...3)]
            let scale = c.logUniform(in: 1e-3...1e3)
            let r = c.bool() ? p : c.int(in: 1...p)
            let h = PlantedPSD(&c, dimension: p, eigenvalues: spectrum.values(&c, count: r, scale: scale))
            let columns = drawColumns(&c, dimension: p, rank: k)
            c.note("p=\(p) k=\(k) r=\(r) \(spectrum) ‖H‖=\(scale) \(columns)")
            let (nystrom, _) = try build(&c, h, rank: k, columns: columns)
            let tolerance = nystrom.stabilizingShift + nystromRoundingBudget(h, rank: k)
            let lowest = try eigenvalues(h.accurateDifference(nystrom)).first!
            try c.expect(lowest >= -tolerance, "λ_min(H − Ĥ) = \(lowest) below −(ν + δ) = \(-tolerance)")
            let lambda = nystrom.eigenvalues
            try c.expect(lambda.allSatisfy { $0 >= 0 } && lambda == lambda.sorted(by: >), "Λ not ≥ 0 and descending")
            for j in 0..<k {
                let planted = j < r ? h.eigenvalues[j] : 0
                try c.expect(lambda[j] <= planted + tolerance, "λ̂_\(j) = \(lambda[j]) above λ_\(j) + ν + δ = \(planted + tolerance)")
            }
        }
    }

    /// rank(H) = r ≤ k: Ĥ = H up to `a·(ν + δ)`, for Gaussian Ω (QᵀΩ has full row rank with
    /// probability one) and for random coordinates (full row rank generically, since range(H)
    /// is a random subspace; a is measured, so a badly placed sample gives a larger but still
    /// valid bound). Λ then holds the r planted eigenvalues to the same accuracy and k − r
    /// entries below it: numerical rank r.
    @Test func lowRankOperatorsAreRecoveredToTheShift() throws {
        var amplifications: [Double] = []
        try forAll("rank(H) ≤ k is exact", cases: 80) { c in
            let p = c.size(2...100)
            let r = c.int(in: 1...p), k = c.int(in: r...p)
            let spectrum = PlantedSpectrum.allCases[c.int(in: 0...2)]
            let h = PlantedPSD(&c, dimension: p, eigenvalues: spectrum.values(&c, count: r, scale: c.logUniform(in: 1e-3...1e3)))
            let columns = drawColumns(&c, dimension: p, rank: k)
            c.note("p=\(p) k=\(k) r=\(r) \(spectrum) ‖H‖=\(h.norm) \(columns)")
            let (nystrom, omega) = try build(&c, h, rank: k, columns: columns)
            let a = try h.amplification(omega)
            amplifications.append(a)
            let tolerance = a * (nystrom.stabilizingShift + nystromRoundingBudget(h, rank: k))
            c.note("amplification \(a)")
            let values = try eigenvalues(h.accurateDifference(nystrom))
            let error = max(-values.first!, values.last!)
            try c.expect(error <= tolerance, "‖Ĥ − H‖ = \(error) = \(error / h.norm)·‖H‖ above a(ν + δ) = \(tolerance)")
            for j in 0..<k {
                let planted = j < r ? h.eigenvalues[j] : 0
                try c.expect(abs(nystrom.eigenvalues[j] - planted) <= tolerance,
                             "λ̂_\(j) = \(nystrom.eigenvalues[j]) vs planted \(planted): more than a(ν + δ) = \(tolerance) apart")
            }
        }
        // The bound is not vacuous: most samples are well placed (a below 100).
        #expect(amplifications.filter { $0 < 100 }.count * 4 >= amplifications.count * 3,
                "amplifications \(amplifications.sorted().suffix(10))")
    }

    /// Hataya and Yamada's column sampling: H supported on a coordinate set T (H = Q Λ Qᵀ with
    /// Q's rows zero outside T). Coordinates S ⊇ T see all of range(H), so `QᵀΩ` has orthonormal
    /// rows, a = 2 and `‖Ĥ − H‖ ≤ 2(ν + δ)`. Coordinates missing one index t ∈ T, with r = |T|:
    /// the core `H[S, S]` has rank ≤ r − 1, hence so has Ĥ, and by Eckart–Young
    /// `‖H − Ĥ‖ ≥ λ_r`, while the Löwner order still holds.
    @Test func coordinatesSpanningTheRangeRecoverIt() throws {
        try forAll("coordinates spanning range(H)", cases: 60) { c in
            let p = c.size(2...100)
            let t = c.int(in: 1...p)
            let support = try NystromTestMatrix.draw(.coordinates, dimension: p, count: t, using: &c.rng)
            guard case .coordinates(let tIndices, _) = support else { preconditionFailure() }
            // Q: an orthonormal t×t block placed on the rows T.
            let block = c.orthonormalColumns(rows: t, columns: t)
            var q = Matrix(rows: p, columns: t)
            for j in 0..<t { for (row, i) in tIndices.enumerated() { q[i, j] = block[row, j] } }
            let spectrum = PlantedSpectrum.allCases[c.int(in: 0...2)]
            let h = PlantedPSD(range: q, eigenvalues: spectrum.values(&c, count: t, scale: c.logUniform(in: 1e-3...1e3)))
            // S = T plus k − t other coordinates.
            let k = c.int(in: t...p)
            let others = (0..<p).filter { !tIndices.contains($0) }.shuffled(using: &c.rng).prefix(k - t)
            let spanning = NystromTestMatrix.coordinates(indices: (tIndices + others).sorted(), dimension: p)
            c.note("p=\(p) |T|=\(t) k=\(k) \(spectrum) ‖H‖=\(h.norm)")
            let nystrom = try NystromApproximation(testMatrix: spanning, sketch: try h.sketch(spanning))
            let a = try h.amplification(spanning)
            try c.expect(a <= 2 + 1e-10, "amplification \(a), expected ≤ 2 for coordinates spanning range(H)")
            let tolerance = 2 * (nystrom.stabilizingShift + nystromRoundingBudget(h, rank: k))
            let values = try eigenvalues(h.accurateDifference(nystrom))
            let error = max(-values.first!, values.last!)
            try c.expect(error <= tolerance, "‖Ĥ − H‖ = \(error) above 2(ν + δ) = \(tolerance)")
            // Drop one coordinate of T (keep k ≥ 1).
            guard k >= 2 else { return }
            let dropped = tIndices[c.int(in: 0...(t - 1))]
            let missing = NystromTestMatrix.coordinates(indices: (tIndices + others).filter { $0 != dropped }.sorted(), dimension: p)
            let partial = try NystromApproximation(testMatrix: missing, sketch: try h.sketch(missing))
            let partialValues = try eigenvalues(h.accurateDifference(partial))
            let lambdaR = h.eigenvalues[t - 1]
            let budget = partial.stabilizingShift + nystromRoundingBudget(h, rank: k - 1)
            try c.expect(partialValues.last! >= lambdaR - budget,
                         "missing coordinate \(dropped): ‖H − Ĥ‖ = \(partialValues.last!) below λ_r = \(lambdaR)")
            try c.expect(partialValues.first! >= -budget, "missing coordinate: λ_min(H − Ĥ) = \(partialValues.first!)")
        }
    }

    /// k = p with a Gaussian Ω: Ĥ = H (a ≤ 2), and `(Ĥ + ρI)⁻¹v` is the dense `(H + ρI)⁻¹v` to
    /// within a forward-error bound built from κ(H + ρI) and the shift:
    ///
    /// ```
    /// ‖x̂ − x*‖ ≤ ‖E‖‖x̂‖/(λ_min(H) + ρ) + ‖x̂ − fl(x̂)‖,      E = H − Ĥ, ‖E‖ ≤ 2(ν + δ)
    ///          = κ(H + ρI) · 2(ν + δ)/(λ₁ + ρ) · ‖x̂‖ + (apply and basis rounding)
    /// ```
    ///
    /// The apply's rounding is bounded componentwise (`γ_{2p+3}|U||c|(|Uᵀ||v|)`, computed from
    /// the data); U's departure from orthonormality `F = UᵀU − I` changes the operator by at most
    /// `‖F‖·κ(Ĥ + ρI)` relative. The dense reference `x_d` (Cholesky of fl(GGᵀ) + ρI) is within
    /// `κ·η_d·(‖x_d‖ + ‖x*‖)` of x*, η_d its backward error measured with the doubled-precision
    /// residual. All first-order, with a factor 1.1 for the second-order terms.
    @Test func fullSketchShiftedInverseIsTheDenseOne() throws {
        var compared = 0, total = 0
        try forAll("k = p: (Ĥ + ρI)⁻¹ = (H + ρI)⁻¹", cases: 60) { c in
            let p = c.size(1...100)
            let r = c.bool() ? p : c.int(in: 1...p)
            let spectrum = PlantedSpectrum.allCases[c.int(in: 0...3)]
            let h = PlantedPSD(&c, dimension: p, eigenvalues: spectrum.values(&c, count: r, scale: c.logUniform(in: 1e-3...1e3)))
            let rho = h.norm * c.logUniform(in: 1e-10...10)
            c.note("p=\(p) r=\(r) \(spectrum) ‖H‖=\(h.norm) ρ=\(rho)")
            let (nystrom, _) = try build(&c, h, rank: p, columns: .gaussian(orthonormalized: true))
            let errorBound = 2 * (nystrom.stabilizingShift + nystromRoundingBudget(h, rank: p))
            let values = try eigenvalues(h.accurateDifference(nystrom))
            let error = max(-values.first!, values.last!)
            try c.expect(error <= errorBound, "‖Ĥ − H‖ = \(error) above 2(ν + δ) = \(errorBound)")

            let inverse = try nystrom.shiftedInverse(damping: rho)
            let v = c.vector(count: p)
            let x = try inverse.apply(v)
            let lambdaMin = r == p ? h.eigenvalues[p - 1] * (1 - 4 * Double(p) * eps) : 0
            let kappa = (h.norm + rho) / (lambdaMin + rho)
            let hatMin = nystrom.eigenvalues.last!
            let kappaHat = (nystrom.eigenvalues[0] + rho) / (hatMin + rho)
            // Apply rounding: γ_{2p+3}·‖|U| (|c| ⊙ |U|ᵀ|v|)‖ with c_j = 1/(λ̂_j + ρ).
            let absU = absolute(nystrom.basis)
            let inner = referenceProduct(absU.transposed, v.map(abs))
            let size = referenceProduct(absU, zip(inner, nystrom.eigenvalues).map { $0 / ($1 + rho) })
            let applyError = Double(2 * p + 3) * eps * BLAS.norm(size)
            var gram = Matrix(rows: p, columns: p)
            try BLAS.syrk(.transpose, nystrom.basis, &gram)
            for i in 0..<p { gram[i, i] -= 1 }
            let basisError = try spectralNorm(gram) * kappaHat
            // The dense reference and its measured backward error.
            var dense = try h.dense()
            for i in 0..<p { dense[i, i] += rho }
            let xd = try denseSolve(dense, v)
            let etaD = BLAS.norm(h.accurateResidual(xd, v, damping: rho)) / ((h.norm + rho) * BLAS.norm(xd) + BLAS.norm(v))
            let bound = 1.1 * (errorBound / (lambdaMin + rho) + applyError / BLAS.norm(x) + basisError + 2 * kappa * etaD)
            c.note("κ(H+ρI)=\(kappa) η_d=\(etaD / eps) eps")
            total += 1
            if bound < 0.5 {
                compared += 1
                let forward = relativeError(x, xd)
                try c.expect(forward <= bound, "‖x̂ − x_d‖/‖x_d‖ = \(forward) above \(bound)")
            }
        }
        #expect(compared * 4 >= total * 3, "only \(compared) of \(total) solves were compared with the dense solve")
    }

    /// Every rank-k result is a valid eigendecomposition of what `apply` and `materialized`
    /// compute: `Ĥ v = U (Λ ⊙ Uᵀv)` to `γ_{p+k+1}` componentwise against the reference loops, the
    /// block apply equals the column applies to that accuracy, and `materialized()` is `UΛUᵀ`
    /// to `γ_{k+2}·|U|Λ|U|ᵀ` entrywise (syrk of `U√Λ`: one more rounding per factor).
    @Test func applyAndMaterializedAgreeWithTheFactors() throws {
        try forAll("Ĥ apply vs U Λ Uᵀ", cases: 40) { c in
            let p = c.size(1...80), k = c.int(in: 1...p)
            let h = PlantedPSD(&c, dimension: p, eigenvalues: PlantedSpectrum.polynomial.values(&c, count: p, scale: c.logUniform(in: 1e-3...1e3)))
            let (nystrom, _) = try build(&c, h, rank: k, columns: drawColumns(&c, dimension: p, rank: k))
            let m = c.int(in: 1...4)
            let vs = c.gaussianMatrix(rows: p, columns: m)
            let u = nystrom.basis, absU = absolute(u), lambda = nystrom.eigenvalues
            let block = try nystrom.apply(block: vs)
            let gamma = 2 * Double(p + k + 1) * eps
            for j in 0..<m {
                let v = vs.column(j)
                let y = try nystrom.apply(v)
                let reference = referenceProduct(u, zip(referenceProduct(u.transposed, v), lambda).map { $0 * $1 })
                let size = referenceProduct(absU, zip(referenceProduct(absU.transposed, v.map(abs)), lambda).map { $0 * $1 })
                for i in 0..<p {
                    try c.expect(abs(y[i] - reference[i]) <= 2 * gamma * size[i], "apply[\(i)] \(y[i]) vs \(reference[i])")
                    try c.expect(abs(block[i, j] - y[i]) <= 2 * gamma * size[i], "block apply [\(i), \(j)] vs column apply")
                }
            }
            let dense = try nystrom.materialized()
            var scaled = u, scaledAbs = absU
            for j in 0..<k { for i in 0..<p { scaled[i, j] *= lambda[j]; scaledAbs[i, j] *= lambda[j] } }
            let reference = referenceProduct(scaled, u.transposed), size = referenceProduct(scaledAbs, absU.transposed)
            for i in 0..<(p * p) {
                try c.expect(abs(dense.storage[i] - reference.storage[i]) <= 2 * Double(k + 4) * eps * size.storage[i],
                             "materialized entry \(i)")
            }
        }
    }

    /// H = 0 on range(Ω) (here H = 0): Y = 0, Ĥ = 0 with an orthonormal basis of range(Ω), no
    /// Cholesky, and the shifted inverse is exactly `ρ⁻¹I` up to the tail's rounding.
    @Test func aZeroSketchGivesTheZeroApproximation() throws {
        try forAll("Y = 0", cases: 20) { c in
            let p = c.size(1...60), k = c.int(in: 1...p)
            let columns = drawColumns(&c, dimension: p, rank: k)
            let omega = try NystromTestMatrix.draw(columns, dimension: p, count: k, using: &c.rng)
            c.note("p=\(p) k=\(k) \(columns)")
            let nystrom = try NystromApproximation(testMatrix: omega, sketch: Matrix(rows: p, columns: k))
            try c.expect(nystrom.eigenvalues == [Double](repeating: 0, count: k) && nystrom.stabilizingShift == 0,
                         "Λ = \(nystrom.eigenvalues), ν = \(nystrom.stabilizingShift)")
            try c.expect(nystrom.cost.operatorApplications == k && nystrom.cost.choleskyAttempts == 0
                         && nystrom.cost.flops == 2 * Double(p * k), "cost \(nystrom.cost)")
            let rho = c.logUniform(in: 1e-6...1e3)
            let v = c.vector(count: p)
            let x = try nystrom.shiftedInverse(damping: rho).apply(v)
            // x = v/ρ + U(0 ⊙ Uᵀv): the U term is exactly 0, so x is v/ρ rounded once (k < p), or
            // U(Uᵀv)/ρ (k = p), within γ_{2p}·‖v‖/ρ of it (U orthonormal to 30·p·eps).
            let expected = v.map { $0 / rho }
            let allowed = (k < p ? eps : 32 * Double(p) * eps) * BLAS.norm(v) / rho
            try c.expect(BLAS.norm(zip(x, expected).map { $0 - $1 }) <= allowed, "(0 + ρI)⁻¹v ≠ v/ρ")
        }
    }
}
