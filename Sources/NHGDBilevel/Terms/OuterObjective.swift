import NHGDLinearAlgebra

/// The outer objective `f(x, y)` of a bilevel problem, usually a validation loss.
/// Methods are unchecked (see ``SampleLosses``' contract).
public protocol OuterObjective: Sendable {
    /// `f(x, y)`.
    func value(x: [Double], y: [Double]) throws -> Double
    /// `(∇ₓf, ∇ᵧf)` at `(x, y)` (lengths q and p).
    func gradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double])
}

/// The mean loss of a data term on held-out data, `f = (1/m) Σⱼ ℓⱼ(y)`, independent of x
/// (`∇ₓf = 0`): the clean validation cross-entropy of hyper-cleaning, the validation log-loss or
/// squared error of the regularisation problems. ``gradients(x:y:)`` is one combination call
/// with the coefficient column `1/m`.
public struct ValidationLoss<Data: SampleLosses>: OuterObjective {
    /// The held-out samples.
    public let data: Data

    public init(_ data: Data) { self.data = data }

    public func value(x: [Double], y: [Double]) throws -> Double { try data.meanLoss(at: y) }

    public func gradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        ([Double](repeating: 0, count: x.count), try data.meanGradient(at: y))
    }
}
