import NHGDLinearAlgebra

/// A problem that exposes the terms of its inner objective separately,
///
/// ```
/// g(x, y) = (1/n) Σᵢ ωᵢ(x) ℓᵢ(y) + R(x, y),
/// ```
///
/// so that every first-order oracle can be checked against a finite difference of the value
/// it differentiates (``checkOracles(_:at:_:step:maxDenseDimension:using:)``). All built-in problems
/// conform.
public protocol PerSampleLossProblem: BilevelProblem {
    /// `ℓᵢ(y)` for the training samples `samples` (the unweighted per-sample losses whose
    /// gradients ``BilevelProblem/perSampleGradients(x:y:samples:into:weights:)`` returns).
    func perSampleLosses(y: [Double], samples: [Int]) throws -> [Double]

    /// The regulariser value `R(x, y)`.
    func regularizerValue(x: [Double], y: [Double]) throws -> Double
}
