extension NystromApproximation {
    /// Draws Ω (p×k) of the kind `columns`, asks `sketch` for `Y = HΩ` in one batch, and builds
    /// the approximation: the whole job of a Nyström estimator's curvature step.
    ///
    /// The closure receives Ω as a ``NystromTestMatrix``, so that a caller with cheap Hessian
    /// columns can answer `.coordinates(indices:dimension:)` with k columns of H, and any
    /// caller can batch the k Hessian-vector products (one data pass for all of them).
    ///
    /// ```swift
    /// let nystrom = try NystromApproximation(dimension: p, rank: 5, columns: .coordinates, using: &rng) { omega in
    ///     try hessianTimes(omega.materialized())      // the caller's k products Y = HΩ, p×k
    /// }
    /// let u = try nystrom.shiftedInverse(damping: 0.1).apply(gradient)  // (Ĥ + 0.1 I)⁻¹ ∇f
    /// // nystrom.cost.operatorApplications == 5
    /// ```
    ///
    /// - Throws: `invalidArgument` unless `1 ≤ k ≤ p` (checked before anything is drawn or
    ///   computed); whatever `sketch` throws, unchanged; then the errors of
    ///   ``init(testMatrix:sketch:)`` (a Y of the wrong shape or with NaN/∞, a non-PSD sketch).
    /// - Complexity: k products with H, done by `sketch`; drawing Ω (p·k normal draws and, when
    ///   orthonormalised, a QR of 4pk² − 4k³/3 flops, added to ``cost``); then as
    ///   ``init(testMatrix:sketch:)``.
    public init(
        dimension p: Int, rank k: Int, columns: NystromColumns = .gaussian(),
        using rng: inout some RandomNumberGenerator, sketch: (NystromTestMatrix) throws -> Matrix
    ) throws {
        try requireRank(k, dimension: p, "NystromApproximation")
        let omega = try NystromTestMatrix.draw(columns, dimension: p, count: k, using: &rng)
        try self.init(testMatrix: omega, sketch: try sketch(omega))
        if columns == .gaussian(orthonormalized: true) {
            let kd = Double(k)
            cost.flops += 4 * Double(p) * kd * kd - 4 * kd * kd * kd / 3
        }
    }

    /// The rank-k Nyström approximation of a PSD `operator` from k products with it, computed
    /// by its ``LinearOperator/apply(block:)`` on Ω (p×k; for coordinates, the k unit vectors).
    ///
    /// - Throws: as ``init(dimension:rank:columns:using:sketch:)``, with the operator's errors.
    /// - Complexity: one block apply of k columns, then as ``init(testMatrix:sketch:)``.
    public init(
        of operator: some LinearOperator, rank k: Int, columns: NystromColumns = .gaussian(),
        using rng: inout some RandomNumberGenerator
    ) throws {
        try self.init(dimension: `operator`.dimension, rank: k, columns: columns, using: &rng) { omega in
            try `operator`.apply(block: omega.materialized())
        }
    }
}
