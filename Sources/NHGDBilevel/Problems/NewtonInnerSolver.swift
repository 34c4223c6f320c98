import NHGDLinearAlgebra

extension DenseHessianProblem {
    /// The inner solution `y*(x)` by damped Newton on the dense Hessian (Cholesky, Armijo
    /// backtracking on g) from `start` (the problem's initial point by default), stopped when
    /// `‖∇ᵧg‖ ≤ tolerance`: the deterministic reference solver for tests (small p). Backtracking
    /// keeps every step a descent step, so it converges globally on the strongly convex inner
    /// problems here; it throws rather than return a point whose gradient norm exceeds
    /// `tolerance`.
    /// - Throws: ``BilevelError`` for a bad `x` or `start`, a Hessian that is not positive
    ///   definite, or no convergence within `maxIterations`.
    /// - Complexity: one dense Hessian and its Cholesky factor per iteration.
    public func innerSolution(x: [Double], start: [Double]? = nil, tolerance: Double = 1e-12,
                              maxIterations: Int = 100) throws -> [Double] {
        var y = start ?? initialInner()
        try requireFiniteVector(x, outerDimension, "innerSolution", "x")
        try requireFiniteVector(y, innerDimension, "innerSolution", "start")
        var value = try innerValue(x: x, y: y)
        for _ in 0..<maxIterations {
            let gradient = try innerGradient(x: x, y: y)
            if BLAS.norm(gradient) <= tolerance { return y }
            var step = gradient
            do {
                try CholeskyFactorization(hessian(x: x, y: y)).solve(&step)
            } catch let error as LinearAlgebraError {
                throw BilevelError.linearAlgebra(error)
            }
            let slope = -BLAS.dot(gradient, step)
            let gradientNorm = BLAS.norm(gradient)
            var t = 1.0
            var accepted = false
            var candidate = y
            var candidateValue = value
            while t >= 1e-10 {
                candidate = y
                BLAS.axpy(-t, step, &candidate)
                candidateValue = try innerValue(x: x, y: candidate)
                if candidateValue <= value + 1e-4 * t * slope {
                    accepted = true
                    break
                }
                // Near y* the decrease ‖∇g‖²/2 falls below the rounding of g itself, so Armijo
                // cannot be verified; the full Newton step is then accepted when it shrinks the
                // gradient (the quadratic-convergence regime).
                if t == 1, BLAS.norm(try innerGradient(x: x, y: candidate)) <= gradientNorm / 2 {
                    accepted = true
                    break
                }
                t /= 2
            }
            if !accepted { break }
            y = candidate
            value = candidateValue
        }
        let finalNorm = BLAS.norm(try innerGradient(x: x, y: y))
        if finalNorm <= tolerance { return y }
        throw BilevelError.invalidHyperparameter(
            name: "innerSolution tolerance", value: "\(tolerance)",
            requirement: "not reached by damped Newton within \(maxIterations) iterations (gradient norm \(finalNorm))")
    }
}
