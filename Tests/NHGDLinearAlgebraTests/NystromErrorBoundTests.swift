import Foundation
import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// The expected error of the Nyström approximation from a Gaussian Ω against the bounds of the
/// literature, on planted spectra with polynomial and exponential decay.
///
/// **The bounds.** For the exact `H⟨Ω⟩` and a standard Gaussian p×k Ω, with λ₁ ≥ … ≥ λ_p the
/// eigenvalues of H and any 1 ≤ r ≤ k − 2:
///
/// ```
/// E‖H − H⟨Ω⟩‖₂ ≤ λ_{r+1} + ( √(λ_{r+1}·r/(k − r − 1)) + e·√((k + r)/2)/(k − r)·√(Σ_{j>r} λ_j) )²
/// E‖H − H⟨Ω⟩‖_* = E tr(H − H⟨Ω⟩) ≤ (1 + r/(k − r − 1))·Σ_{j>r} λ_j
/// ```
///
/// Derivation, from cited parts: `H − H⟨Ω⟩ = H^{1/2}(I − P)H^{1/2}` with P the orthogonal projector
/// onto range(H^{1/2}Ω) (Gittens and Mahoney, "Revisiting the Nyström method", JMLR 17, 2016),
/// so `‖H − H⟨Ω⟩‖₂ = ‖(I − P)H^{1/2}‖₂²` and its trace is `‖(I − P)H^{1/2}‖_F²`. Halko, Martinsson and
/// Tropp (SIAM Review 53(2), 2011), Theorem 9.1, for A = H^{1/2} split after its r largest
/// singular values √λ: `‖(I − P)A‖² ≤ ‖Σ₂‖² + ‖Σ₂Ω₂Ω₁⁺‖²` in both norms, Ω₁ (r×k) and Ω₂ independent
/// standard Gaussian. Frobenius: `E‖Σ₂Ω₂Ω₁⁺‖_F² = ‖Σ₂‖_F² E‖Ω₁⁺‖_F²` and `E‖Ω₁⁺‖_F² = r/(k − r − 1)`
/// (HMT, Proposition 10.2 / A.5), which gives the trace bound; it is Theorem 4.1 of Tropp,
/// Yurtsever, Udell and Cevher, "Fixed-rank approximation of a positive-semidefinite matrix
/// from streaming data" (NeurIPS 2017) for the un-truncated approximation. Spectral: conditioned
/// on Ω₁, `E‖SGT‖² ≤ (‖S‖‖T‖_F + ‖S‖_F‖T‖)²` for Gaussian G (Tropp and Webber, "Randomized algorithms
/// for low-rank matrix approximation", arXiv:2306.12418, 2023, Lemma B.1), then Minkowski's
/// inequality in L² over Ω₁ with `E‖Ω₁⁺‖² ≤ e²(k + r)/(2(k − r)²)` (Tropp–Webber, Lemma B.3,
/// k ≥ r + 2). This is the form of Frangella, Tropp and Udell's Lemma 5.4 (their constants come
/// from `(a + b)² ≤ 2a² + 2b²` and are larger). Both bounds are minimised over r; r = 0 gives the
/// trivial λ₁ and tr H, which hold since 0 ⪯ H⟨Ω⟩ ⪯ H.
///
/// **The computed approximation** is `(H + νI)⟨Ω⟩ − ν(I − UUᵀ) − (clip)`, so
/// `‖H − Ĥ‖₂ ≤ ‖(H + νI) − (H + νI)⟨Ω⟩‖₂ + ν` and `‖H − Ĥ‖_* ≤ tr((H + νI) − (H + νI)⟨Ω⟩) + p·ν`;
/// the deterministic bound above is monotone in the eigenvalues, so with ν ≤ ν̄ = √(pk)·eps·λ₁
/// (`‖Y‖_F ≤ √k·λ₁` for the Ω/s of ``NystromApproximation``, one Cholesky attempt, checked) the
/// bounds hold with `λ_j + ν̄` plus ν̄ (plus p·ν̄). Rounding adds at most the budget δ
/// (``nystromRoundingBudget(_:rank:)``), p·δ in the nuclear norm, and the dense difference
/// `fl(GGᵀ) − fl(UΛUᵀ)` used to measure the error adds `2p·eps·(‖H‖ + ‖Ĥ‖)`-ish, also below δ.
///
/// **The test.** N = 40 draws per case; the sample mean must not exceed the bound by more than
/// three standard errors (the sample standard deviation over √N). The test is deterministic
/// for a base seed; the slack says how unlikely a failure would be if the bound held with
/// equality: by the normal approximation to the mean, about 0.13 % (Cantelli's inequality,
/// which needs no normality, gives at most 10 %). Neither bound is tight: over base seeds 1–30
/// (600 cases) the mean error was at most 0.11 of the spectral bound (median 0.06) and 0.59 of
/// the nuclear-norm bound (median 0.28), while the standard errors were below 0.02 of the
/// bounds; so a failure would mean that a bound, or the code, is wrong, not bad luck. Each
/// case's notes report its ratio.
struct NystromErrorBoundTests {
    /// The two bounds for the eigenvalues λ (descending, each already including the shift).
    static func bounds(_ lambda: [Double], rank k: Int) -> (spectral: Double, nuclear: Double) {
        let total = lambda.reduce(0, +)
        var spectral = lambda[0], nuclear = total
        var tail = total
        for r in 0..<(k - 1) {
            tail -= lambda[r]               // Σ_{j>r} λ_j, with λ indexed from 0
            let rd = Double(r + 1), kd = Double(k)
            guard r + 1 <= k - 2 else { break }
            let next = lambda[r + 1]
            let frobenius = rd / (kd - rd - 1)
            let spectralMoment = M_E * M_E * (kd + rd) / (2 * (kd - rd) * (kd - rd))
            let s = next + pow((next * frobenius).squareRoot() + (tail * spectralMoment).squareRoot(), 2)
            spectral = min(spectral, s)
            nuclear = min(nuclear, (1 + frobenius) * tail)
        }
        return (spectral, nuclear)
    }

    @Test func expectedErrorsAreWithinTheGaussianBounds() throws {
        var informative = 0, total = 0
        try forAll("E‖H − Ĥ‖ within the Gaussian-sketch bounds", cases: 20) { c in
            let p = c.size(20...80)
            let k = c.int(in: 10...min(p, 32))
            // Decay fast enough for the bounds to say something at these k: λ_j = j^{−a}, a ≥ 1.5,
            // or e^{−b(j−1)}, b ≥ 0.3. (With slower decay the spectral bound, whose second term
            // carries the whole tail Σ_{j>r} λ_j, is often above the trivial λ₁.)
            let polynomial = c.bool(), rate = polynomial ? c.double(in: 1.5...3) : c.double(in: 0.3...1)
            let scale = c.logUniform(in: 1e-2...1e2)
            let spectrum = polynomial ? "polynomial j^-\(rate)" : "exponential e^-\(rate)(j-1)"
            let h = PlantedPSD(&c, dimension: p, eigenvalues: (0..<p).map { j in
                scale * (polynomial ? pow(Double(j + 1), -rate) : exp(-rate * Double(j)))
            })
            let orthonormalized = c.bool() || 2 * k > p
            c.note("p=\(p) k=\(k) \(spectrum) λ = \(h.eigenvalues.prefix(4))… orthonormalised: \(orthonormalized)")
            let dense = try h.dense()
            let draws = 40
            var spectral: [Double] = [], nuclear: [Double] = []
            for _ in 0..<draws {
                let omega = try NystromTestMatrix.draw(.gaussian(orthonormalized: orthonormalized), dimension: p, count: k, using: &c.rng)
                let nystrom = try NystromApproximation(testMatrix: omega, sketch: try h.sketch(omega))
                try c.expect(nystrom.cost.choleskyAttempts == 1, "the shift had to be raised: ν̄ does not bound ν")
                var difference = dense
                let approximation = try nystrom.materialized()
                for i in 0..<(p * p) { difference.storage[i] -= approximation.storage[i] }
                let values = try SymmetricEigendecomposition(difference).values
                spectral.append(max(-values.first!, values.last!))
                nuclear.append(values.reduce(0) { $0 + abs($1) })
            }
            let nuBar = Double(p * k).squareRoot() * eps * h.norm
            let delta = nystromRoundingBudget(h, rank: k)
            let (spectralBound, nuclearBound) = Self.bounds(h.eigenvalues.map { $0 + nuBar }, rank: k)
            for (name, errors, bound) in [("spectral", spectral, spectralBound + nuBar + delta),
                                          ("nuclear", nuclear, nuclearBound + Double(p) * (nuBar + delta))] {
                let mean = errors.reduce(0, +) / Double(draws)
                let sd = (errors.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws - 1)).squareRoot()
                let standardError = sd / Double(draws).squareRoot()
                c.note("\(name): mean \(mean) ± \(standardError), bound \(bound) (mean/bound = \(mean / bound))")
                try c.expect(mean <= bound + 3 * standardError,
                             "\(name): mean error \(mean) above the bound \(bound) by more than 3 standard errors (\(standardError))")
            }
            total += 1
            if spectralBound <= 0.5 * h.norm && nuclearBound <= 0.5 * h.eigenvalues.reduce(0, +) { informative += 1 }
        }
        // The bounds must say something: in most cases both are below half their trivial values.
        #expect(informative * 3 >= total * 2, "only \(informative) of \(total) cases had bounds below half of ‖H‖ and tr H")
    }
}
