import Foundation
import NHGDLinearAlgebra
import NHGDTestSupport

/// A planted PSD operator `H = G Gᵀ` with `G = Q diag(√λ)` (p×r, Q orthonormal columns): as an
/// operator it is exactly PSD with rank exactly r and range exactly range(Q), whatever the
/// rounding of G, and its eigenvalues are λ to a relative `O(√p·eps)` (G is Q with each entry
/// rounded once, `Q(I + K)` with `‖K‖ ≤ √p·u`, scaled by `diag(√λ)`). The sketch `Y = HΩ` is
/// formed as `G(GᵀΩ)`, as a matrix-free operator would.
struct PlantedPSD {
    /// G, p×r.
    var factor: Matrix
    /// Q, p×r with orthonormal columns: range(H).
    var range: Matrix
    /// λ, descending, all positive (the zero eigenvalues are the p − r left out of G).
    var eigenvalues: [Double]
    var dimension: Int { factor.rows }
    var rank: Int { factor.columns }
    /// ‖H‖₂ = λ₁.
    var norm: Double { eigenvalues.first ?? 0 }

    /// `H = Q diag(λ) Qᵀ` with Q Haar-distributed p×r (r = λ.count ≤ p).
    init(_ c: inout PropertyCase, dimension p: Int, eigenvalues lambda: [Double]) {
        self.init(range: c.orthonormalColumns(rows: p, columns: lambda.count), eigenvalues: lambda)
    }

    /// `H = Q diag(λ) Qᵀ` for a given orthonormal Q.
    init(range q: Matrix, eigenvalues lambda: [Double]) {
        precondition(q.columns == lambda.count)
        var g = q
        for (j, l) in lambda.enumerated() { for i in 0..<q.rows { g[i, j] *= l.squareRoot() } }
        factor = g
        range = q
        eigenvalues = lambda
    }

    /// `Y = G(GᵀΩ)` (two `gemm`s).
    func sketch(_ omega: NystromTestMatrix) throws -> Matrix {
        let om = omega.materialized()
        var t = Matrix(rows: rank, columns: om.columns)
        try BLAS.gemm(.transpose, .none, factor, om, &t)
        var y = Matrix(rows: dimension, columns: om.columns)
        try BLAS.gemm(.none, .none, factor, t, &y)
        return y
    }

    /// `fl(G Gᵀ)`, the dense matrix (for dense reference solves).
    func dense() throws -> Matrix {
        var h = Matrix(rows: dimension, columns: dimension)
        try BLAS.syrk(.none, factor, &h)
        return h
    }

    /// `(G Gᵀ + ρI) x − v` in doubled precision from G itself (Ogita–Rump–Oishi `Dot2`, as in
    /// ``accurateResidual(_:_:_:)``): its own error is about eps·|residual|, negligible.
    func accurateResidual(_ x: [Double], _ v: [Double], damping rho: Double) -> [Double] {
        let p = dimension, r = rank
        var tHi = [Double](repeating: 0, count: r), tLo = [Double](repeating: 0, count: r)
        factor.storage.withUnsafeBufferPointer { g in
            for m in 0..<r {
                var s = CompensatedSum()
                for i in 0..<p { s.addProduct(g[i + m * p], x[i]) }
                tHi[m] = s.hi; tLo[m] = s.lo
            }
        }
        var residual = [Double](repeating: 0, count: p)
        factor.storage.withUnsafeBufferPointer { g in
            for i in 0..<p {
                var s = CompensatedSum()
                s.addProduct(rho, x[i])
                s.add(-v[i])
                for m in 0..<r {
                    s.addProduct(g[i + m * p], tHi[m])
                    s.addProduct(g[i + m * p], tLo[m])
                }
                residual[i] = s.value
            }
        }
        return residual
    }

    /// `H − Ĥ = G Gᵀ − U Λ Uᵀ`, each entry summed in doubled precision and rounded once, so
    /// its error is `eps·|H − Ĥ|` entrywise (plus eps² terms): the eigenvalues of the result are
    /// those of the exact difference to `p·eps·‖H − Ĥ‖`, negligible next to the tolerances below,
    /// where a difference of two rounded dense matrices would add `O(p·eps·‖H‖)` of its own.
    /// - Complexity: p²(r + k)/2 compensated products.
    func accurateDifference(_ nystrom: NystromApproximation) -> Matrix {
        let p = dimension, r = rank, k = nystrom.rank
        var d = Matrix(rows: p, columns: p)
        let lambda = nystrom.eigenvalues
        // UΛ as a double-double (hi, lo) pair per entry.
        var ulHi = nystrom.basis, ulLo = nystrom.basis
        for j in 0..<k {
            for i in 0..<p {
                let a = nystrom.basis[i, j]
                ulHi[i, j] = a * lambda[j]
                ulLo[i, j] = fmaError(a, lambda[j], ulHi[i, j])
            }
        }
        factor.storage.withUnsafeBufferPointer { g in
            nystrom.basis.storage.withUnsafeBufferPointer { u in
                ulHi.storage.withUnsafeBufferPointer { hi in
                    ulLo.storage.withUnsafeBufferPointer { lo in
                        for j in 0..<p {
                            for i in j..<p {
                                var s = CompensatedSum()
                                for m in 0..<r { s.addProduct(g[i + m * p], g[j + m * p]) }
                                for l in 0..<k {
                                    s.addProduct(-hi[i + l * p], u[j + l * p])
                                    s.addProduct(-lo[i + l * p], u[j + l * p])
                                }
                                d[i, j] = s.value
                                d[j, i] = s.value
                            }
                        }
                    }
                }
            }
        }
        return d
    }

    /// `1 + ‖Q⊥ᵀΩ‖² ‖(QᵀΩ)⁺‖²`, the factor by which a shift (or a perturbation acting like one)
    /// moves the Nyström approximation of a rank-r H when QᵀΩ has full row rank (see
    /// ``NystromApproximation``); infinite when it does not.
    func amplification(_ omega: NystromTestMatrix) throws -> Double {
        let om = omega.materialized()
        var qtOmega = Matrix(rows: rank, columns: om.columns)
        try BLAS.gemm(.transpose, .none, range, om, &qtOmega)
        let sigmaMin = try SingularValueDecomposition(qtOmega).singularValues.last ?? 0
        // Q⊥ᵀΩ has the norm of (I − QQᵀ)Ω.
        var residual = om
        try BLAS.gemm(.none, .none, alpha: -1, range, qtOmega, beta: 1, &residual)
        let outside = try spectralNorm(residual)
        return sigmaMin == 0 ? .infinity : 1 + outside * outside / (sigmaMin * sigmaMin)
    }
}

/// The rounding budget of a rank-k Nyström construction, `δ = 8·(p + k + 4)·eps·‖H‖`.
///
/// A first-order normwise model: the construction has eight stages, each committing errors of
/// at most about `γ_{2n}·‖H‖ ≈ n·eps·‖H‖` (γₙ = n·u/(1 − n·u), u = eps/2; Higham, *Accuracy and
/// Stability*, §3.1) with n the length of its sums: the sketch `G(GᵀΩ)` (two products, n ≤ p),
/// the core `ΩᵀY_ν` (n = p), its Cholesky factor (backward error `γ_{k+1}|L||Lᵀ|`, Thm 10.3),
/// the triangular solve for B (`γ_k|L|` per row, Thm 8.5), B's SVD (a reduction of the p rows
/// and one of the k×k triangle, backward stable with errors of that order) and the shift's
/// removal and clip. One budget of `(p + k)·eps·‖H‖` per stage covers both lengths, and the
/// `+ 4` the stages whose few roundings do not grow with p (Σ², Σ² − ν, the clip, each entry's
/// final rounding), which dominate for p ≤ 8. Errors in the sketch and the core act on Ĥ as a
/// perturbation of the shift ν does, so in the recovery bound they are amplified like ν
/// (``PlantedPSD/amplification(_:)``).
///
/// The model is not a proof (the triangular solve's normwise forward error alone can be κ(L)
/// times larger, and is not in practice). Before the tests used it, it was checked on 18 000
/// cases (p ≤ 100, base seeds 1–6, OpenBLAS's Haswell and SkylakeX kernels): the largest excesses
/// over the exact-arithmetic bounds were 3.5·(p + k + 4)·eps·‖H‖ for the Löwner order (at
/// p ≤ 5) and 1.1·(p + k + 4)·eps·‖H‖ times the amplification for the recovery of low-rank H.
/// A first model, 8·p·eps·‖H‖, counted only the length-p stages and failed on the Löwner
/// order at p = 4, k = 3 (base seed 42, SkylakeX kernels: an excess of 9.0·p·eps·‖H‖).
func nystromRoundingBudget(_ h: PlantedPSD, rank k: Int) -> Double {
    8 * Double(h.dimension + k + 4) * eps * h.norm
}

/// A test-matrix kind for a case: Gaussian orthonormalised, Gaussian raw (only when k ≤ p/2,
/// where κ(Ω) ≤ 6; see ``NystromColumns/gaussian(orthonormalized:)``), or coordinates.
func drawColumns(_ c: inout PropertyCase, dimension p: Int, rank k: Int, allowCoordinates: Bool = true) -> NystromColumns {
    switch c.int(in: 0...(allowCoordinates ? 2 : 1)) {
    case 0: return .gaussian(orthonormalized: true)
    case 1: return 2 * k <= p ? .gaussian(orthonormalized: false) : .gaussian(orthonormalized: true)
    default: return .coordinates
    }
}

/// Planted spectra of length n with `λ₁ = scale`: polynomial decay `j^{−a}`, exponential decay
/// `e^{−b(j−1)}`, log-spaced over a condition number, or a step (half at `scale`, half at
/// `scale·10⁻¹²`).
enum PlantedSpectrum: CaseIterable {
    case polynomial, exponential, logSpaced, step

    func values(_ c: inout PropertyCase, count n: Int, scale: Double) -> [Double] {
        switch self {
        case .polynomial:
            let a = c.double(in: 0.5...3)
            return (0..<n).map { scale * pow(Double($0 + 1), -a) }
        case .exponential:
            let b = c.logUniform(in: 0.02...1)
            return (0..<n).map { scale * exp(-b * Double($0)) }
        case .logSpaced:
            return logSpacedSpectrum(count: n, conditionNumber: c.logUniform(in: 1...1e12), largest: scale)
        case .step:
            return (0..<n).map { $0 < (n + 1) / 2 ? scale : scale * 1e-12 }
        }
    }
}
