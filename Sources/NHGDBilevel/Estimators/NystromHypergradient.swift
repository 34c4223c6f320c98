import NHGDLinearAlgebra

/// Nyström implicit differentiation (Hataya & Yamada, "Nyström Method for Accurate and Scalable
/// Implicit Differentiation", AISTATS 2023): the inverse Hessian from a rank-k Nyström
/// approximation built from k Hessian-vector products, applied with a shift ρ,
///
/// ```
/// Y = H Ω  (k HVPs),   Ĥ = Y (ΩᵀY)⁺ Yᵀ = U Λ Uᵀ  (``NystromApproximation``),
/// u = (Ĥ + ρI)⁻¹ ∇ᵧf = U (Λ + ρI)⁻¹ Uᵀ∇ᵧf + ρ⁻¹ (∇ᵧf − U Uᵀ∇ᵧf)
/// ```
///
/// the same "low rank plus diagonal through Woodbury" as NHGD, but from HVPs rather than from
/// the gradients the inner loop computes anyway, and rebuilt every `refreshInterval` estimates
/// (Hataya & Yamada rebuild at every hypergradient). The columns of Ω are k random coordinates
/// (as in their implementation: k columns of H) or Gaussian directions (orthonormalised).
///
/// Since the shift replaces the curvature Ĥ misses, `(Ĥ + ρI)⁻¹` is a biased inverse unless H
/// has rank ≤ k and ρ → 0; with `k = p` (Gaussian Ω) it is `(H + ρI)⁻¹` to rounding.
/// - Complexity: per rebuild, k Hessian-vector products (on ``batchSize`` samples or all data)
///   and O(pk²) flops (a thin SVD and, for Gaussian columns, a QR); per estimate, two passes
///   over the p×k basis.
public struct NystromHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "nystrom" }
    /// k, the number of Hessian columns (or directions).
    public let rank: Int
    /// ρ > 0, the shift.
    public let shift: Double
    /// Random coordinates (the paper's) or Gaussian directions.
    public let columns: NystromColumns
    /// Samples per Hessian-vector product (`nil`: all training data).
    public let batchSize: Int?
    /// Estimates that reuse one approximation (1: rebuilt every estimate).
    public let refreshInterval: Int
    /// The approximation in use and the estimates made with it.
    public internal(set) var approximation: (nystrom: NystromApproximation, uses: Int)?

    /// - Parameters:
    ///   - rank: k ≥ 1 (at most p, checked at the first estimate).
    ///   - shift: ρ > 0, finite.
    ///   - columns: `.coordinates` (Hataya & Yamada) or `.gaussian()`.
    ///   - batchSize: ≥ 1, or `nil` for full-batch HVPs.
    ///   - refreshInterval: ≥ 1.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(rank: Int = 5, shift: Double = 0.1, columns: NystromColumns = .coordinates, batchSize: Int? = nil,
                refreshInterval: Int = 1) throws {
        (self.rank, self.shift, self.batchSize) = try validatedSolverSettings(("rank", rank, 1), stepSize: shift,
                                                                             batchSize: batchSize)
        try requireHyperparameter(refreshInterval >= 1, "refreshInterval", refreshInterval, "must be at least 1")
        self.columns = columns
        self.refreshInterval = refreshInterval
    }

    public mutating func reset() { approximation = nil }

    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)`` when k > p.
    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        try requireHyperparameter(rank <= system.dimension, "rank", rank, "must be at most p = \(system.dimension)")
        if approximation == nil || approximation!.uses >= refreshInterval || approximation!.nystrom.dimension != system.dimension {
            let hessian = system.hessian(samples: system.minibatch(batchSize, using: &rng))
            let nystrom = try NystromApproximation(dimension: system.dimension, rank: rank, columns: columns, using: &rng) {
                try hessian.apply(block: $0.materialized())
            }
            system.countHessianVectorProducts(rank)
            approximation = (nystrom, 0)
        }
        approximation!.uses += 1
        let u = try approximation!.nystrom.shiftedInverse(damping: shift).apply(system.rightHandSide())
        return AdjointSolution(u: u)
    }
}
