/// What an iterative solve returned and what it cost.
public struct IterativeSolution: Sendable, Equatable {
    /// The approximate solution x.
    public var solution: [Double]
    /// `‖b − A x‖₂` of the recursively updated residual (for CG; equal to the true residual in
    /// exact arithmetic).
    public var residualNorm: Double
    /// Iterations taken.
    public var iterations: Int
    /// Applications of the operator A (every iteration one, plus one for a nonzero start).
    public var operatorApplications: Int
    /// Applications of the preconditioner.
    public var preconditionerApplications: Int
}

/// (Preconditioned) conjugate gradients on `A x = b` for symmetric positive definite A
/// (Hestenes & Stiefel 1952; Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed.,
/// Algorithm 9.1), with A and the preconditioner `M⁻¹` known only through their action: the
/// shape of jaxopt's `solve_cg(matvec, b)`.
///
/// ```
/// r₀ = b − A x₀,  z₀ = M⁻¹ r₀,  d₀ = z₀
/// αₖ = rₖᵀzₖ / dₖᵀA dₖ,   xₖ₊₁ = xₖ + αₖ dₖ,   rₖ₊₁ = rₖ − αₖ A dₖ
/// zₖ₊₁ = M⁻¹ rₖ₊₁,        βₖ = rₖ₊₁ᵀzₖ₊₁ / rₖᵀzₖ,   dₖ₊₁ = zₖ₊₁ + βₖ dₖ
/// ```
///
/// Error: in the A-norm, `‖x − xₖ‖_A ≤ 2((√κ − 1)/(√κ + 1))ᵏ ‖x − x₀‖_A`, κ the condition number
/// of `M^{-1/2} A M^{-1/2}`. It stops after `maxIterations`, when `‖rₖ‖ ≤ relativeTolerance·‖b‖`,
/// or when `dᵀA d ≤ 0` (A is not positive definite along d: the iterate so far is returned).
public enum ConjugateGradients {
    /// Solves `A x = b` from `start` (zeros when `nil`).
    /// - Parameters:
    ///   - preconditioner: applies `M⁻¹` (symmetric positive definite); `nil` for plain CG.
    /// - Throws: whatever the operators throw; `dimensionMismatch` for vectors of the wrong length.
    /// - Complexity: per iteration one application of A and of M⁻¹, five length-p passes.
    public static func solve(
        _ a: some LinearOperator, _ b: [Double], start: [Double]? = nil, maxIterations: Int,
        relativeTolerance: Double = 0, preconditioner: (any LinearOperator)? = nil
    ) throws -> IterativeSolution {
        let p = a.dimension
        try requireLength(b, p, "ConjugateGradients.solve", "b")
        if let start { try requireLength(start, p, "ConjugateGradients.solve", "start") }
        if let preconditioner { try requireDimension(preconditioner, p, "ConjugateGradients.solve (preconditioner)") }
        var x = start ?? [Double](repeating: 0, count: p)
        var r = b
        var product = [Double](repeating: 0, count: p)
        var applications = 0, preconditioning = 0
        if start != nil, BLAS.norm(x) > 0 {
            try a.apply(x, into: &product)
            applications += 1
            BLAS.axpy(-1, product, &r)
        }
        let threshold = relativeTolerance * BLAS.norm(b)
        var z = r
        if let preconditioner {
            try preconditioner.apply(r, into: &z)
            preconditioning += 1
        }
        var direction = z
        var rz = BLAS.dot(r, z)
        var residualNorm = BLAS.norm(r)
        var iterations = 0
        while iterations < maxIterations, residualNorm > threshold, rz > 0 {
            try a.apply(direction, into: &product)
            applications += 1
            let curvature = BLAS.dot(direction, product)
            guard curvature > 0 else { break }
            let alpha = rz / curvature
            BLAS.axpy(alpha, direction, &x)
            BLAS.axpy(-alpha, product, &r)
            residualNorm = BLAS.norm(r)
            iterations += 1
            if preconditioner == nil {
                z = r
            } else {
                try preconditioner!.apply(r, into: &z)
                preconditioning += 1
            }
            let rzNext = BLAS.dot(r, z)
            BLAS.scale(&direction, by: rzNext / rz)
            BLAS.axpy(1, z, &direction)
            rz = rzNext
        }
        return IterativeSolution(solution: x, residualNorm: residualNorm, iterations: iterations,
                                 operatorApplications: applications, preconditionerApplications: preconditioning)
    }
}
