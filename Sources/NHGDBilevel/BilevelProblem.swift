import NHGDLinearAlgebra

/// A bilevel problem with a statistical inner problem (ALGORITHMS.md §1–2), composed from its
/// terms:
///
/// ```
/// minimise over x   Φ(x) = f(x, y*(x)),    y*(x) = argmin_y g(x, y),
/// g(x, y) = (1/n) Σᵢ ωᵢ(x) ℓᵢ(y) + R(x, y)
/// ```
///
/// `x ∈ ℝ^q` are the hyperparameters, `y ∈ ℝ^p` the model parameters. A conforming type names
/// its four terms — the data term ``data`` (the losses `ℓᵢ` and their gradient combinations,
/// ``SampleLosses``), the ``weighting`` `ωᵢ(x)` (``UniformWeights`` by default), the
/// ``regularizer`` R and the ``outer`` objective f — and q; every oracle an estimator needs
/// (the inner gradient, Hessian-vector products, the cross product `J u`, …) is derived from
/// them in one place (`BilevelProblem+Oracles.swift`). A whole problem can be five lines:
///
/// ```swift
/// struct TunedLeastSquares: SecondOrderBilevelProblem {
///     let data: LeastSquares                         // a SecondOrderSampleLosses
///     let outer: ValidationLoss<LeastSquares>
///     let regularizer = PerFeatureL2()
///     var outerDimension: Int { data.parameterCount }
/// }
/// ```
///
/// Second-order oracles need a second-order data term, and the conformance says so:
/// ``SecondOrderBilevelProblem`` (Hessian-vector products) and ``DenseHessianProblem`` (the
/// dense Hessian) refine this protocol with constraints on ``Data``, so an estimator that needs
/// Hessian-vector products does not compile against a first-order problem.
///
/// **Validation.** User input is checked at the door: problem initialisers check their data,
/// and `(x, y)` are checked where an estimator, ``BilevelOptimizer`` or ``checkOracles(_:at:_:step:maxDenseDimension:using:)``
/// is entered. The oracles run unchecked; a wrong shape is a precondition failure.
public protocol BilevelProblem: Sendable {
    associatedtype Data: SampleLosses
    associatedtype Weighting: SampleWeighting
    associatedtype Regularization: Regularizer
    associatedtype Outer: OuterObjective

    /// The training losses `ℓᵢ` (n samples, p parameters).
    var data: Data { get }
    /// `ωᵢ(x)`.
    var weighting: Weighting { get }
    /// `R(x, y)`.
    var regularizer: Regularization { get }
    /// `f(x, y)`.
    var outer: Outer { get }
    /// q, the number of hyperparameters.
    var outerDimension: Int { get }

    /// A starting point for x (length q; zeros by default).
    func initialOuter() -> [Double]
    /// A starting point for y (length p; the data term's ``SampleLosses/initialParameters()`` by default).
    func initialInner() -> [Double]
    /// Task metrics at (x, y), for example `validation_accuracy`, `test_accuracy`, `auroc`;
    /// by default `validation_loss` (= f).
    func metrics(x: [Double], y: [Double]) throws -> [String: Double]
    /// The inner objective g(x, y) on all training data; by default
    /// `(1/n) Σᵢ ωᵢ ℓᵢ + R` from the terms.
    func innerValue(x: [Double], y: [Double]) throws -> Double
}

/// A problem whose data term has Hessian-vector products
/// (``hessianVectorProduct(x:y:v:samples:into:)``).
public protocol SecondOrderBilevelProblem: BilevelProblem where Data: SecondOrderSampleLosses {}

/// A problem whose data term can form its dense Hessian (``hessian(x:y:maxBytes:)``; small p only).
public protocol DenseHessianProblem: SecondOrderBilevelProblem where Data: DenseHessianSampleLosses {}

extension BilevelProblem where Weighting == UniformWeights {
    public var weighting: UniformWeights { UniformWeights() }
}
