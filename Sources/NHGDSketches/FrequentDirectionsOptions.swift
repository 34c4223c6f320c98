/// How a ``FrequentDirectionsSketch`` reduces its full 2ℓ-column buffer to ℓ directions.
///
/// Both compute the same shrink (ALGORITHMS.md §5) and agree to rounding; they differ in cost
/// and memory. The benchmark suite `sketch` measures both.
public enum ShrinkMethod: Sendable, Equatable, Hashable {
    /// The Gram trick for p ≫ ℓ: with the buffer `M = [VΣ, G]` (kept part with orthogonal
    /// columns, then m − k new columns), form the m×m Gram matrix
    ///
    /// ```
    /// K = MᵀM = [ diag(σ²)   ΣVᵀG ]      (ΣVᵀG by gemm, GᵀG by syrk)
    ///           [ GᵀVΣ       GᵀG  ]
    /// ```
    ///
    /// eigen-decompose it (`dsyevd`), `K = W diag(λ) Wᵀ`, and rotate: the new columns are
    /// `M W_ℓ diag(√((λᵢ − δ)/λᵢ))`, δ = λ_{ℓ+1}. About 7pℓ² flops against ~24pℓ² for a thin
    /// SVD, no p-length temporaries (the rotation runs over row panels).
    ///
    /// The structured `K₁₁ = diag(σ²)` assumes the kept columns are orthogonal; rounding makes
    /// them drift. Every `reorthogonalizationInterval`-th shrink therefore forms `K₁₁ = VᵀV` by
    /// `syrk` as well (pℓ² more flops): the eigenvectors of the true Gram matrix rotate the
    /// columns back to orthogonal, to the accuracy of `dsyevd`, so the drift never accumulates
    /// beyond that many shrinks. An interval of 1 always forms the full Gram matrix.
    ///
    /// Squaring the condition number loses singular *directions* of M below √ε·σ₁, but their
    /// contribution to the Fisher `MMᵀ` is below ε·σ₁² = ε‖MMᵀ‖₂: in Fisher space the Gram
    /// trick is as accurate as the SVD.
    case gramTrick(reorthogonalizationInterval: Int)
    /// Thin SVD of the buffer (`dgesdd`): `M = U diag(σ) Vᵀ`, new columns
    /// `U_ℓ diag(√((σᵢ − c)(σᵢ + c)))` with c = σ_{ℓ+1} (the factored form avoids the
    /// cancellation in σᵢ² − c²). About 24pℓ² flops and a p×2ℓ temporary per shrink: the
    /// reference method.
    case svd

    /// The Gram trick with the full Gram matrix every 8 shrinks.
    public static let gramTrick = ShrinkMethod.gramTrick(reorthogonalizationInterval: 8)
}

/// What a ``FrequentDirectionsSketch`` adds to the diagonal to account for the mass its
/// shrinks removed (Luo et al., Robust Frequent Directions, JMLR 2019; ALGORITHMS.md §5).
///
/// With `E = F − BBᵀ` the FD error, `0 ⪯ E ⪯ Δ·I`:
public enum DiagonalCompensation: Sendable, Equatable, Hashable {
    /// Plain FD: `F̂ = BBᵀ`, `‖F − F̂‖₂ ≤ Δ`. The estimate has rank ≤ 2ℓ.
    case none
    /// `F̂ = BBᵀ + (Δ/2)·I`: `−Δ/2·I ⪯ E − Δ/2·I ⪯ Δ/2·I`, so `‖F − F̂‖₂ ≤ Δ/2`, half of FD's
    /// error, and the estimate is full rank once anything was shrunk.
    case scalar
    /// `F̂ = BBᵀ + D_c` with `D_c = diag(F) − diag(BBᵀ) = diag(E) ≥ 0`, tracking `diag(F)`
    /// exactly (O(p) per gradient, p more doubles): `F̂` equals `F` on the diagonal.
    ///
    /// Bound: `F − F̂ = E − diag(E)`, and `0 ≤ diag(E)ᵢ = eᵢᵀ E eᵢ ≤ Δ`, so
    /// `λ_max(E − diag E) ≤ λ_max(E) − minᵢ Eᵢᵢ ≤ Δ` and `λ_min(E − diag E) ≥ −maxᵢ Eᵢᵢ ≥ −Δ`:
    /// `‖F − F̂‖₂ ≤ Δ`, no better than plain FD in the worst case. The worst case is attained up
    /// to a factor 1 − 1/p: for `E = Δ·𝟙𝟙ᵀ/p`, `E − diag E` has the eigenvalue `Δ(1 − 1/p)`.
    /// The gain is in the typical case (exact variances, never a zero diagonal), not the bound.
    case residualDiagonal
}
