/// The truncated Neumann series for `A⁻¹ b` with a sequence of operators (stocBiO's estimator,
/// Ji, Yang & Liang 2021):
///
/// ```
/// u = η Σ_{q=0}^{Q} Π_{j=1}^{q} (I − η A_j) b
/// ```
///
/// With `A_j = A` for all j and `0 < η λ(A) < 2`, `u → A⁻¹b` as Q grows; with eigenvalues in
/// `[μ, L]` and `η ≤ 1/L` the relative error of the truncation is at most `(1 − ημ)^{Q+1}`.
/// With stochastic `A_j` (minibatch Hessians, a fresh one per factor) `u` is a biased but
/// consistent estimate.
public enum NeumannSeries {
    /// `η Σ_{q=0}^{Q} Π_{j≤q} (I − η A_j) b` with `A_j = operators[j − 1]` (Q = operators.count).
    /// - Throws: whatever the operators throw; `dimensionMismatch` when an operator or b differ in size.
    /// - Complexity: Q operator applications and 2Q length-p passes.
    public static func apply<Operator: LinearOperator>(
        stepSize eta: Double, to b: [Double], operators: some Sequence<Operator>
    ) throws -> [Double] {
        var term = b, sum = b
        var product = [Double](repeating: 0, count: b.count)
        for a in operators {
            try requireDimension(a, b.count, "NeumannSeries.apply")
            try a.apply(term, into: &product)
            BLAS.axpy(-eta, product, &term)
            BLAS.axpy(1, term, &sum)
        }
        BLAS.scale(&sum, by: eta)
        return sum
    }
}

/// Richardson iteration (gradient descent on `½ zᵀA z − zᵀb`) with a sequence of operators,
/// warm-started: AmIGO's inner solver (Arbel & Mairal 2022),
///
/// ```
/// z ← z − η (A_k z − b),     k = 1 … K,
/// ```
///
/// whose fixed point is `A⁻¹b` when every `A_k = A`; with eigenvalues in `[μ, L]` and `η ≤ 1/L`
/// the error contracts by `1 − ημ` per step.
public enum RichardsonIteration {
    /// K steps from `start` with `A_k = operators[k − 1]`.
    /// - Complexity: K operator applications and 2K length-p passes.
    public static func solve<Operator: LinearOperator>(
        stepSize eta: Double, _ b: [Double], start: [Double], operators: some Sequence<Operator>
    ) throws -> [Double] {
        try requireLength(start, b.count, "RichardsonIteration.solve", "start")
        var z = start
        var product = [Double](repeating: 0, count: b.count)
        for a in operators {
            try requireDimension(a, b.count, "RichardsonIteration.solve")
            try a.apply(z, into: &product)
            BLAS.axpy(-eta, product, &z)
            BLAS.axpy(eta, b, &z)
        }
        return z
    }
}

/// Throws `dimensionMismatch` unless the operator maps vectors of length n.
func requireDimension(_ a: some LinearOperator, _ n: Int, _ operation: String) throws {
    guard a.dimension == n else {
        throw LinearAlgebraError.dimensionMismatch(operation: operation, expected: "an operator of dimension \(n)",
                                                   actual: "dimension \(a.dimension)")
    }
}
