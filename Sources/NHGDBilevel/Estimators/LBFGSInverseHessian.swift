import NHGDLinearAlgebra

/// The limited-memory BFGS approximation of an inverse Hessian (Nocedal & Wright, *Numerical
/// Optimization*, 2nd ed., Algorithm 7.4), kept as the newest `m` curvature pairs
/// `(sᵢ, yᵢ)` with `sᵢ = y_{i+1} − y_i` (a step) and `yᵢ = ∇g(y_{i+1}) − ∇g(y_i)` (the change
/// of gradient along it).
///
/// ``apply(_:)`` returns `H_k v` by the two-loop recursion, where `H_k` is what `k = pairCount`
/// dense BFGS inverse updates, oldest pair first, make of `H₀ = γ I`:
///
/// ```
/// H⁺ = (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ,     ρ = 1 / (sᵀy),
/// γ  = s_kᵀ y_k / (y_kᵀ y_k)                        (newest pair; γ = 1 with no pairs)
/// ```
///
/// The update keeps `H⁺` symmetric positive definite exactly when `sᵀy > 0`. ``append(s:y:)``
/// enforces the cautious safeguard `sᵀy > ε ‖s‖ ‖y‖` (ε = ``curvatureThreshold``): a pair
/// that fails it (a step along which the function is not convex enough, or a step so short
/// that `y` is rounding noise) is skipped, so every stored `ρ` is positive and bounded by
/// `1 / (ε ‖s‖ ‖y‖)`.
///
/// Used by ``QuasiNewtonHypergradient`` (qNBO, Fang et al. 2025) to apply an approximate
/// `H⁻¹` to `∇ᵧf` with first-order oracles only.
/// - Complexity: `O(p m)` memory; ``apply(_:)`` costs `4 p k` flops (2k dots, 2k axpys).
public struct LBFGSInverseHessian: Sendable {
    /// p, the length of the vectors.
    public let dimension: Int
    /// m, the number of pairs kept (the oldest is dropped when a new one arrives).
    public let memory: Int
    /// ε of the curvature safeguard `sᵀy > ε ‖s‖ ‖y‖`.
    public let curvatureThreshold: Double

    /// Ring buffer of the pairs; slot `(oldest + i) % memory` holds the i-th oldest.
    var steps: [[Double]]
    var gradientChanges: [[Double]]
    var inverseCurvatures: [Double]   // ρᵢ = 1 / sᵢᵀyᵢ
    var oldest = 0
    /// Number of pairs held, `0 … memory`.
    public internal(set) var pairCount = 0
    /// Pairs offered to ``append(s:y:)`` and rejected by the safeguard, since the last
    /// ``removeAll()``.
    public internal(set) var skippedPairCount = 0

    /// - Parameters:
    ///   - dimension: p ≥ 1.
    ///   - memory: m ≥ 1.
    ///   - curvatureThreshold: ε ≥ 0 (finite, < 1 since `sᵀy ≤ ‖s‖‖y‖` always).
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(dimension: Int, memory: Int, curvatureThreshold: Double = 1e-8) throws {
        try requireHyperparameter(dimension >= 1, "dimension", dimension, "must be at least 1")
        try requireHyperparameter(memory >= 1, "memory", memory, "must be at least 1")
        try requireHyperparameter(curvatureThreshold >= 0 && curvatureThreshold < 1, "curvatureThreshold",
                                  curvatureThreshold, "must be in [0, 1)")
        self.dimension = dimension
        self.memory = memory
        self.curvatureThreshold = curvatureThreshold
        steps = []
        gradientChanges = []
        inverseCurvatures = []
        steps.reserveCapacity(memory)
        gradientChanges.reserveCapacity(memory)
        inverseCurvatures.reserveCapacity(memory)
    }

    /// `γ = s_kᵀ y_k / (y_kᵀ y_k)` of the newest pair, the scaling of `H₀ = γ I`; 1 with no pairs.
    public var initialScaling: Double {
        guard pairCount > 0 else { return 1 }
        let newest = slot(pairCount - 1)
        let y = gradientChanges[newest]
        return 1 / (inverseCurvatures[newest] * BLAS.dot(y, y))
    }

    /// Offers the pair `(s, y)`; stores it (dropping the oldest when full) unless it fails
    /// the safeguard `sᵀy > ε ‖s‖ ‖y‖`.
    /// - Returns: whether the pair was stored.
    /// - Throws: `dimensionMismatch` or `nonFinite`; the state is then unchanged.
    @discardableResult
    public mutating func append(s: [Double], y: [Double]) throws -> Bool {
        try requireCount(s, dimension, "LBFGSInverseHessian.append", "s")
        try requireCount(y, dimension, "LBFGSInverseHessian.append", "y")
        try requireAllFinite(s, "LBFGSInverseHessian.append", "s")
        try requireAllFinite(y, "LBFGSInverseHessian.append", "y")
        let sy = BLAS.dot(s, y)
        let scale = BLAS.norm(s) * BLAS.norm(y)
        guard sy > curvatureThreshold * scale, sy > 0, (1 / sy).isFinite else {
            skippedPairCount += 1
            return false
        }
        if pairCount < memory {
            steps.append(s)
            gradientChanges.append(y)
            inverseCurvatures.append(1 / sy)
            pairCount += 1
        } else {
            steps[oldest] = s
            gradientChanges[oldest] = y
            inverseCurvatures[oldest] = 1 / sy
            oldest = (oldest + 1) % memory
        }
        return true
    }

    /// `H_k v` by the two-loop recursion:
    ///
    /// ```
    /// q = v;  for i = k … 1:  αᵢ = ρᵢ sᵢᵀq;  q ← q − αᵢ yᵢ
    /// r = γ q; for i = 1 … k:  β = ρᵢ yᵢᵀr;  r ← r + (αᵢ − β) sᵢ
    /// ```
    /// - Throws: `dimensionMismatch` unless `v.count == dimension`.
    /// - Complexity: `4 p k` flops, two length-p buffers.
    public func apply(_ v: [Double]) throws -> [Double] {
        try requireCount(v, dimension, "LBFGSInverseHessian.apply", "v")
        var q = v
        var alphas = [Double](repeating: 0, count: pairCount)
        for i in stride(from: pairCount - 1, through: 0, by: -1) {
            let j = slot(i)
            alphas[i] = inverseCurvatures[j] * BLAS.dot(steps[j], q)
            BLAS.axpy(-alphas[i], gradientChanges[j], &q)
        }
        BLAS.scale(&q, by: initialScaling)
        for i in 0..<pairCount {
            let j = slot(i)
            let beta = inverseCurvatures[j] * BLAS.dot(gradientChanges[j], q)
            BLAS.axpy(alphas[i] - beta, steps[j], &q)
        }
        return q
    }

    /// The stored pairs, oldest first (for inspection and dense references).
    public var pairs: [(s: [Double], y: [Double])] {
        (0..<pairCount).map { i in (steps[slot(i)], gradientChanges[slot(i)]) }
    }

    /// Forgets every pair (and the skipped count).
    public mutating func removeAll() {
        steps.removeAll(keepingCapacity: true)
        gradientChanges.removeAll(keepingCapacity: true)
        inverseCurvatures.removeAll(keepingCapacity: true)
        oldest = 0
        pairCount = 0
        skippedPairCount = 0
    }

    @inline(__always) private func slot(_ i: Int) -> Int { (oldest + i) % memory }
}
