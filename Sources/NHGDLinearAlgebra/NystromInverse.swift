internal import CLAPACK

/// `(Ĥ + ρI)⁻¹` for a Nyström approximation `Ĥ = U Λ Uᵀ`, or the Nyström preconditioner built
/// from it: an operator of the form "orthonormal basis plus scalar tail",
///
/// ```
/// x = α v + U (c ⊙ Uᵀ v)                                              (two passes over U)
///
/// shifted inverse:  (Ĥ + ρI)⁻¹ = U (Λ + ρI)⁻¹ Uᵀ + ρ⁻¹ (I − U Uᵀ)
///                   α = 1/ρ,  c_j = 1/(λ_j + ρ) − 1/ρ = −λ_j / (ρ (λ_j + ρ))
/// preconditioner:   P⁻¹ = (λ_k + ρ) U (Λ + ρI)⁻¹ Uᵀ + (I − U Uᵀ)
///                   α = 1,    c_j = (λ_k + ρ)/(λ_j + ρ) − 1 = (λ_k − λ_j) / (λ_j + ρ)
/// ```
///
/// (the second is eq. (5.3) of Frangella, Tropp and Udell, SIAM J. Matrix Anal. Appl. 44(2),
/// 2023, with λ_k the smallest of Λ: it maps range(U) onto the scale λ_k + ρ of the rest, and
/// for `0 ⪯ Ĥ ⪯ H` with `E = H − Ĥ` the preconditioned `P^{-1/2}(H + ρI)P^{-1/2}` has its
/// spectrum in `[ρ, λ_k + ρ + ‖E‖]`, their Proposition 5.3). When k = p, `I − UUᵀ = 0` and
/// the tail is dropped: `α = 0`, `c_j = 1/(λ_j + ρ)` and `(λ_k + ρ)/(λ_j + ρ)`.
///
/// Accuracy. The coefficients are formed in the cancellation-free forms on the right, so each
/// is accurate to three roundings, and an apply evaluates `α v + U (c ⊙ Uᵀv)` to the
/// componentwise accuracy of two `gemv`s, `γ_{p+k+3}(|α||v| + |U||c|(|Uᵀ||v|))`. Relative to
/// `(Ĥ + ρI)⁻¹v` that is a forward error of order `eps·k·(λ₁ + ρ)/ρ` when k < p: the two terms
/// cancel when v lies in range(U) and λ ≫ ρ, and range(U)^⊥ is known only to `‖UᵀU − I‖ ≈ p·eps`,
/// an error the scalar tail multiplies by 1/ρ (`(λ₁ + ρ)/ρ` is κ(Ĥ + ρI), Ĥ being singular on
/// range(U)^⊥). For k = p it is of order `eps·k·κ(Ĥ + ρI)` with Ĥ's own smallest eigenvalue.
///
/// Immutable and shareable across threads; built by ``NystromApproximation/shiftedInverse(damping:)``
/// or ``NystromApproximation/preconditioner(damping:)``.
public struct NystromInverse: Sendable, Equatable, LinearOperator {
    /// Which operator this is.
    public enum Form: Sendable, Equatable {
        /// `(Ĥ + ρI)⁻¹`.
        case shiftedInverse
        /// FTU's `P⁻¹ = (λ_k + ρ) U (Λ + ρI)⁻¹ Uᵀ + (I − UUᵀ)`, for preconditioned CG on `H + ρI`.
        case preconditioner
    }

    /// Which operator this is.
    public let form: Form
    /// ρ > 0.
    public let damping: Double
    /// U, shared with the approximation (copy-on-write, so no copy is made).
    let basis: Matrix
    /// `c_j`, one per column of U.
    let coefficients: [Double]
    /// α, the scale of the identity part.
    let tailScale: Double

    /// p.
    public var dimension: Int { basis.rows }
    /// k.
    public var rank: Int { basis.columns }

    init(_ approximation: NystromApproximation, damping rho: Double, form: Form) throws {
        let operation = form == .shiftedInverse ? "NystromApproximation.shiftedInverse" : "NystromApproximation.preconditioner"
        guard rho > 0, rho.isFinite, (1 / rho).isFinite else {
            throw LinearAlgebraError.invalidArgument(
                operation: operation, message: "the damping ρ must be positive, finite and have a finite inverse, got \(rho)")
        }
        let lambda = approximation.eigenvalues
        self.form = form
        self.damping = rho
        self.basis = approximation.basis
        let smallest = lambda.last ?? 0
        // For k = p, I − UUᵀ = 0: the tail term is dropped (in floating point it is the rounding
        // of v − UUᵀv, of order eps‖v‖, which the shifted inverse would multiply by 1/ρ).
        let full = approximation.rank == approximation.dimension
        switch (form, full) {
        case (.shiftedInverse, false):
            tailScale = 1 / rho
            coefficients = lambda.map { -$0 / (rho * ($0 + rho)) }
        case (.shiftedInverse, true):
            tailScale = 0
            coefficients = lambda.map { 1 / ($0 + rho) }
        case (.preconditioner, false):
            tailScale = 1
            coefficients = lambda.map { (smallest - $0) / ($0 + rho) }
        case (.preconditioner, true):
            tailScale = 0
            coefficients = lambda.map { (smallest + rho) / ($0 + rho) }
        }
    }

    /// `x ← α v + U (c ⊙ Uᵀ v)` into caller-owned `x` (length p; no allocation beyond a
    /// k-element scratch on the stack).
    /// - Throws: `dimensionMismatch` for lengths other than p, `nonFinite` for NaN/∞ in v;
    ///   `x` is untouched then.
    /// - Complexity: two passes over U (4pk flops, 16pk bytes) and two length-p passes.
    public func apply(_ v: [Double], into x: inout [Double]) throws {
        let operation = "NystromInverse.apply"
        try requireLength(v, dimension, operation, "v")
        try requireLength(x, dimension, operation, "x")
        try requireFinite(v, operation, "v")
        let p = dimension, k = rank
        let m = try lapackInt(p, operation), n = try lapackInt(k, operation)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: k) { t in
            t.initialize(repeating: 0)
            basis.storage.withUnsafeBufferPointer { u in
                v.withUnsafeBufferPointer { vp in
                    x.withUnsafeMutableBufferPointer { xp in
                        cblas_dgemv(CblasColMajor, CblasTrans, m, n, 1, u.baseAddress, m, vp.baseAddress, 1, 0,
                                    t.baseAddress, 1)
                        for j in 0..<k { t[j] *= coefficients[j] }
                        for i in 0..<p { xp[i] = tailScale * vp[i] }
                        cblas_dgemv(CblasColMajor, CblasNoTrans, m, n, 1, u.baseAddress, m, t.baseAddress, 1, 1,
                                    xp.baseAddress, 1)
                    }
                }
            }
        }
    }

    /// The operator applied to a p×m block into caller-owned `x` (p×m): two `gemm`s.
    /// - Throws: `dimensionMismatch` unless both are p×m, `nonFinite` for NaN/∞ in V (the index
    ///   into its column-major storage); `x` is untouched then.
    /// - Complexity: 4pkm flops, with U read twice.
    public func apply(block v: Matrix, into x: inout Matrix) throws {
        let operation = "NystromInverse.apply(block:)"
        guard v.rows == dimension, x.rows == dimension, x.columns == v.columns else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: operation, expected: "V and X with \(dimension) rows and as many columns",
                actual: "V \(v.rows)×\(v.columns), X \(x.rows)×\(x.columns)")
        }
        if let bad = v.firstNonFiniteIndex {
            throw LinearAlgebraError.nonFinite(operation: operation, argument: "V", index: bad)
        }
        let m = v.columns
        if m == 0 { return }
        var t = Matrix(rows: rank, columns: m)
        try BLAS.gemm(.transpose, .none, basis, v, &t)
        for j in 0..<m { for i in 0..<rank { t[i, j] *= coefficients[i] } }
        x.storage.withUnsafeMutableBufferPointer { xp in
            v.storage.withUnsafeBufferPointer { vp in
                for i in 0..<vp.count { xp[i] = tailScale * vp[i] }
            }
        }
        try BLAS.gemm(.none, .none, basis, t, beta: 1, &x)
    }

    /// The operator applied to a p×m block, as a new matrix.
    public func apply(block v: Matrix) throws -> Matrix {
        var x = Matrix(rows: v.rows, columns: v.columns)
        try apply(block: v, into: &x)
        return x
    }
}

extension NystromApproximation {
    /// `(Ĥ + ρI)⁻¹` as an operator (see ``NystromInverse``); O(k) to build.
    /// - Throws: `invalidArgument` unless ρ is positive and finite with a finite 1/ρ.
    public func shiftedInverse(damping rho: Double) throws -> NystromInverse {
        try NystromInverse(self, damping: rho, form: .shiftedInverse)
    }

    /// FTU's Nyström preconditioner `P⁻¹` for `H + ρI` (see ``NystromInverse``); O(k) to build.
    /// - Throws: `invalidArgument` unless ρ is positive and finite with a finite 1/ρ.
    public func preconditioner(damping rho: Double) throws -> NystromInverse {
        try NystromInverse(self, damping: rho, form: .preconditioner)
    }
}
