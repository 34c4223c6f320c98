import Foundation

/// The rank-k Nyström approximation of a symmetric positive semidefinite p×p operator H from
/// k products `Y = HΩ`, kept as an eigendecomposition `Ĥ = U Λ Uᵀ` (U p×k with orthonormal
/// columns, Λ = diag(λ̂₁ ≥ … ≥ λ̂_k ≥ 0)):
///
/// ```
/// Ĥ = H⟨Ω⟩ = Y (ΩᵀY)⁺ Yᵀ = (HΩ)(ΩᵀHΩ)⁺(HΩ)ᵀ
/// ```
///
/// the best PSD approximation of H with range in range(HΩ) that agrees with H on the sketch
/// (`ΩᵀĤΩ = ΩᵀHΩ`). In exact arithmetic `0 ⪯ Ĥ ⪯ H`, Ĥ depends on Ω only through range(Ω),
/// and `Ĥ = H` whenever `rank(ΩᵀHΩ) = rank(H)` (for a Gaussian Ω: whenever rank(H) ≤ k).
///
/// **Computed stably** as in Frangella, Tropp and Udell, "Randomized Nyström
/// Preconditioning", SIAM J. Matrix Anal. Appl. 44(2), 2023, Algorithm 2.1:
///
/// ```
/// ν   = √p · eps(‖Y‖)               (the stabilising shift; eps(x) = spacing of doubles at x)
/// Y_ν = Y + νΩ                       (= (H + νI)Ω: the sketch of the shifted operator)
/// L Lᵀ = Ωᵀ Y_ν                      (Cholesky of the k×k core, symmetrised first)
/// B   = Y_ν L⁻ᵀ                      (so B Bᵀ = Y_ν (ΩᵀY_ν)⁻¹ Y_νᵀ = (H + νI)⟨Ω⟩)
/// B   = U Σ Vᵀ                       (thin SVD)
/// Λ   = max(0, Σ² − νI)              (remove the shift)
/// ```
///
/// *Why the shift.* The textbook formula needs the pseudo-inverse of `ΩᵀHΩ`, which is singular
/// when rank(H) < k and numerically singular when H's spectrum decays (its condition number is
/// at least λ₁/λ_k); forming `(ΩᵀY)⁺` then amplifies the rounding errors in Y by that
/// condition number. Sketching `H + νI` instead makes the core `Ωᵀ(H + νI)Ω ⪰ ν ΩᵀΩ` positive
/// definite, so it has a Cholesky factor, and with ν a little above the rounding errors of Y
/// and ΩᵀY (√p·eps relative to ‖Y‖) the factor is computed stably; B's SVD then gives U and Λ
/// without ever inverting a near-singular matrix. Removing ν afterwards leaves an error of order
/// ν in the Löwner order: in exact arithmetic the result satisfies `0 ⪯ Ĥ ⪯ H + νI`
/// (`B Bᵀ ⪯ H + νI`, so `U(Σ² − νI)Uᵀ ⪯ H + ν(I − UUᵀ)`, and the clip at 0 adds at most ν on
/// range(U)).
///
/// *When ΩᵀY is singular* (rank(H) = r < k, or H vanishes on part of range(Ω)): the shifted
/// core is still positive definite and the construction goes through. `B Bᵀ = (H + νI)⟨Ω⟩` then
/// has at most r eigenvalues above ν by more than rounding, the others being ν up to rounding
/// (range(Ω)'s directions that H annihilates), so Λ holds at most r entries above the order of
/// ν and rounding and k − r entries that are 0 or of that order: Ĥ has numerical rank ≤ r. When
/// the columns see all of range(H) (QᵀΩ has full row rank, Q a p×r orthonormal basis of
/// range(H); for a Gaussian Ω with probability one), those r entries are λᵢ(H) up to the same
/// order, since in exact arithmetic `‖Ĥ − H‖₂ ≤ ν (1 + ‖Q⊥ᵀΩ‖² ‖(QᵀΩ)⁺‖²)` (for orthonormal Ω,
/// `≤ ν(1 + σ_min(QᵀΩ)⁻²)`): `H − Ĥ = (H+νI)^{1/2}(I − P)(H+νI)^{1/2} − ν(I − UUᵀ) − (clip)` with P
/// the projector onto range((H+νI)^{1/2}Ω), whose first term is bounded by Halko, Martinsson and
/// Tropp (SIAM Review 53(2), 2011), Theorem 9.1, splitting (H+νI)^{1/2} into range(H) and its
/// complement, and whose other terms lie in [−νI, 0]. For k = p (Ω invertible)
/// `(H + νI)⟨Ω⟩ = H + νI` and `Ĥ = H` exactly.
///
/// *Accuracy, as the property tests hold it:* rounding adds at most `δ = 8(p + k + 4)·eps·‖H‖` to
/// these exact-arithmetic statements: `λ_min(H − Ĥ) ≥ −(ν + δ)`, and
/// `‖Ĥ − H‖₂ ≤ (ν + δ)(1 + ‖Q⊥ᵀΩ‖²‖(QᵀΩ)⁺‖²)` for rank(H) ≤ k (rounding in Y and in the core acts
/// like a change of the shift). The result is only as good as Y: it is the approximation of
/// whatever operator Y is the sketch of.
///
/// Departures from the paper, all cheap safeguards: ν uses the Frobenius norm `‖Y‖_F` (one
/// pass over Y rather than an SVD; `‖Y‖₂ ≤ ‖Y‖_F ≤ √k ‖Y‖₂`, so the shift is at most √k
/// larger); if the Cholesky factorisation still fails (rounding in Y when H is singular, or an
/// H that is slightly indefinite) ν is raised a hundredfold, at most three times, before the
/// input is refused; Y is scaled by a power of two to `‖Y‖_F ∈ [1, 2)` first (exact), so
/// neither tiny nor huge H under- or overflows. The paper always orthonormalises Ω; for a
/// dense Ω that is not orthonormal, ν is computed for Ω/s with s the RMS column norm
/// (`‖Ω‖_F/√k`), so the shift of H does not depend on Ω's scale. Its conditioning still
/// matters: the core's smallest eigenvalue is then only `ν·σ_min(Ω)²`, against rounding of
/// order `ν·‖Ω‖²`, so a core of rank-deficient H factors only while κ(Ω)² stays below the 10⁶
/// the retries allow. A Gaussian p×k Ω has `κ(Ω) ≈ (√p + √k)/(√p − √k)` (≤ 6 for k ≤ p/2),
/// but a square one is often far worse: orthonormalise (the default) unless k ≪ p.
///
/// ```swift
/// var rng = Xoshiro256StarStar(seed: 7)
/// let omega = try NystromTestMatrix.draw(.gaussian(), dimension: p, count: k, using: &rng)
/// let nystrom = try NystromApproximation(testMatrix: omega, sketch: try h.apply(block: omega.materialized()))
/// let inverse = try nystrom.shiftedInverse(damping: 0.1)        // (Ĥ + 0.1 I)⁻¹
/// let u = try inverse.apply(gradient)
/// ```
///
/// The builder ``init(of:rank:columns:using:)`` does the first two lines for any
/// ``LinearOperator``; ``init(dimension:rank:columns:using:sketch:)`` lets the caller compute
/// the k products `HΩ` in one batch.
public struct NystromApproximation: Sendable, Equatable, LinearOperator {
    /// U, p×k with orthonormal columns: the eigenvectors of Ĥ.
    public let basis: Matrix
    /// Λ, the k eigenvalues of Ĥ belonging to the columns of U, descending and ≥ 0.
    public let eigenvalues: [Double]
    /// The stabilising shift ν actually used (FTU's `√p·eps(‖Y‖)`, or 100ʲ times that after j
    /// failed Cholesky factorisations; 0 when Y = 0).
    public let stabilizingShift: Double
    /// What building the approximation cost.
    public internal(set) var cost: NystromCost

    /// p.
    public var dimension: Int { basis.rows }
    /// k, the number of columns of Ω and of U.
    public var rank: Int { basis.columns }

    /// How many times ν may be raised (by ``shiftGrowth``) after the first Cholesky fails.
    static let maximumShiftIncreases = 3
    /// The factor by which ν is raised when the Cholesky factorisation of the core fails.
    static let shiftGrowth = 100.0

    /// The Nyström approximation from a test matrix Ω (p×k) and the sketch `Y = HΩ` (p×k).
    ///
    /// - Throws: `invalidArgument` unless `1 ≤ k ≤ p`, for coordinates out of range or repeated,
    ///   and when `Ωᵀ(Y + νΩ)` is not positive definite even after raising ν (Y is not the
    ///   sketch of a PSD operator, or Ω is rank-deficient or badly conditioned); `dimensionMismatch`
    ///   when Y is not p×k; `nonFinite` for NaN/∞ in Ω or Y (the index is into its column-major
    ///   storage); `noConvergence` if the SVD fails.
    /// - Complexity: O(pk) for ν and Y_ν; 2pk² for the core `ΩᵀY_ν` (none for coordinates);
    ///   k³/3 for its Cholesky factor; pk² for B; about 6pk² + 20k³ for B's thin SVD (Golub and
    ///   Van Loan, *Matrix Computations*, 3rd ed., §5.4.5, R-SVD). Memory: three p×k matrices
    ///   besides Ω and Y. ``cost`` records the count.
    public init(testMatrix omega: NystromTestMatrix, sketch y: Matrix) throws {
        let operation = "NystromApproximation"
        try omega.validate(operation)
        let p = omega.dimension, k = omega.columnCount
        guard y.rows == p, y.columns == k else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: operation, expected: "a sketch Y = HΩ of size \(p)×\(k) (the shape of Ω)",
                actual: "\(y.rows)×\(y.columns)")
        }
        if let bad = y.firstNonFiniteIndex {
            throw LinearAlgebraError.nonFinite(operation: operation, argument: "sketch Y", index: bad)
        }
        let pk = Double(p) * Double(k), kk = Double(k) * Double(k)
        let coreFlops = { () -> Double in
            if case .dense = omega { return 2 * pk * Double(k) }
            return 0
        }()
        let norm = BLAS.norm(y.storage)
        if norm == 0 {
            // H vanishes on range(Ω), so Ĥ = 0: any orthonormal basis of range(Ω) will do.
            basis = try omega.orthonormalBasis()
            eigenvalues = [Double](repeating: 0, count: k)
            stabilizingShift = 0
            cost = NystromCost(operatorApplications: k, choleskyAttempts: 0, flops: 2 * pk)
            _checkInvariants()
            return
        }
        // Scale by a power of two so that ‖sY‖_F ∈ [1, 2): exact, and undone on Λ and ν. (The
        // exponent is clamped so that s stays a normal number for ‖Y‖ near the ends of the range.)
        let scale = Double(sign: .plus, exponent: -Swift.min(1022, Swift.max(-1022, norm.exponent)), significand: 1)
        var scaled = y
        BLAS.scale(&scaled.storage, by: scale)
        // FTU's shift assumes orthonormal columns; for another Ω it is taken for Ω/s, s the RMS
        // column norm (s = 1 when orthonormal), which makes the shift of H independent of Ω's scale.
        var nu = Double(p).squareRoot() * (norm * scale / omega.columnScale).ulp
        var attempts = 0
        var factored: (yNu: Matrix, cholesky: CholeskyFactorization)?
        while factored == nil {
            attempts += 1
            var yNu = scaled
            omega.addScaled(nu, to: &yNu)
            var core = try omega.transposeTimes(yNu)
            // Symmetrise: ΩᵀY_ν is symmetric in exact arithmetic, not after rounding in Y and in
            // the product; Cholesky would otherwise see only its lower triangle.
            for j in 0..<k {
                for i in (j + 1)..<max(j + 1, k) {
                    let mean = 0.5 * (core[i, j] + core[j, i])
                    core[i, j] = mean
                    core[j, i] = mean
                }
            }
            do {
                factored = (yNu, try CholeskyFactorization(core))
            } catch LinearAlgebraError.notPositiveDefinite(_, let minor) {
                guard attempts <= Self.maximumShiftIncreases else {
                    throw LinearAlgebraError.invalidArgument(
                        operation: operation,
                        message: "Ωᵀ(Y + νΩ) is not positive definite (leading minor \(minor)) even with the "
                            + "stabilising shift raised to ν = \(nu / scale): Y is not the sketch HΩ of a positive "
                            + "semidefinite H, or Ω does not have full column rank (or is too ill-conditioned: "
                            + "orthonormalise it)")
                }
                nu *= Self.shiftGrowth
            }
        }
        guard var b = factored?.yNu, let cholesky = factored?.cholesky else { preconditionFailure("unreachable") }
        // B = Y_ν L⁻ᵀ, so that B Bᵀ = Y_ν (L Lᵀ)⁻¹ Y_νᵀ.
        try BLAS.trsm(.right, .lower, .transpose, cholesky.factor, &b)
        let svd = try SingularValueDecomposition(b)
        let inverseScale = 1 / scale
        basis = svd.u
        eigenvalues = svd.singularValues.map { Swift.max(0, ($0 * $0 - nu)) * inverseScale }
        stabilizingShift = nu * inverseScale
        let perAttempt = 2 * pk + coreFlops + kk * Double(k) / 3
        cost = NystromCost(operatorApplications: k, choleskyAttempts: attempts,
                           flops: 3 * pk + Double(attempts) * perAttempt + pk * Double(k) + 6 * pk * Double(k)
                               + 20 * kk * Double(k))
        _checkInvariants()
    }

    /// `y ← Ĥ v = U (Λ ⊙ Uᵀv)`.
    /// - Complexity: two passes over U (4pk flops).
    public func apply(_ v: [Double], into y: inout [Double]) throws {
        try requireApplyArguments(v, y, dimension, "NystromApproximation.apply")
        var t = [Double](repeating: 0, count: rank)
        try BLAS.gemv(.transpose, basis, v, &t)
        for j in 0..<rank { t[j] *= eigenvalues[j] }
        try BLAS.gemv(.none, basis, t, &y)
    }

    /// `Ĥ V` for a p×m block (two `gemm`s).
    public func apply(block v: Matrix) throws -> Matrix {
        let operation = "NystromApproximation.apply(block:)"
        try requireBlock(v, rows: dimension, operation, "V")
        var t = Matrix(rows: rank, columns: v.columns)
        try BLAS.gemm(.transpose, .none, basis, v, &t)
        for j in 0..<v.columns { for i in 0..<rank { t[i, j] *= eigenvalues[i] } }
        var y = Matrix(rows: dimension, columns: v.columns)
        try BLAS.gemm(.none, .none, basis, t, &y)
        return y
    }

    /// The dense p×p matrix `U Λ Uᵀ` (for tests and small p).
    /// - Throws: `tooLargeToMaterialize` when p²·8 bytes exceed `maxBytes` (default 512 MiB).
    public func materialized(maxBytes: Int = 512 << 20) throws -> Matrix {
        let p = dimension
        let (bytes, overflow) = p.multipliedReportingOverflow(by: p * 8)
        guard !overflow, bytes <= maxBytes else {
            throw LinearAlgebraError.tooLargeToMaterialize(
                dimension: p, bytesNeeded: overflow ? Int.max : bytes, bytesAllowed: maxBytes)
        }
        var scaled = basis
        for j in 0..<rank {
            let s = eigenvalues[j].squareRoot()
            for i in 0..<p { scaled[i, j] *= s }
        }
        var h = Matrix(rows: p, columns: p)
        try BLAS.syrk(.none, scaled, &h)
        return h
    }

    /// Bytes held (U and Λ).
    public var byteCount: Int { basis.byteCount + eigenvalues.count * 8 }
}

/// What building a ``NystromApproximation`` cost: what an estimator reports per estimate.
public struct NystromCost: Sendable, Equatable {
    /// Products with H: the k columns of `Y = HΩ` (raising the shift reuses Y, it costs none).
    public var operatorApplications: Int
    /// Cholesky factorisations of the k×k core: 1, or more when the shift had to be raised
    /// (0 when Y = 0 and there was nothing to factor).
    public var choleskyAttempts: Int
    /// Leading-order flops of the dense algebra after Y: per attempt 2pk (Y_ν) + 2pk² (core,
    /// dense Ω only) + k³/3 (Cholesky); once 3pk (scaling and ‖Y‖_F) + pk² (B) + 6pk² + 20k³
    /// (SVD). A builder that draws an orthonormalised Gaussian Ω adds its QR, 4pk² − 4k³/3.
    public var flops: Double
}
