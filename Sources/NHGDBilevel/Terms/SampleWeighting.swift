import Foundation
import NHGDLinearAlgebra

/// The per-sample weights `ωᵢ(x)` of the inner objective `g = (1/n) Σᵢ ωᵢ(x) ℓᵢ(y) + R(x, y)`.
///
/// Their part of the cross product is
/// `∇ₓ[(1/n) Σᵢ ωᵢ(x) gᵢᵀu] = (1/n) Σᵢ (gᵢᵀu) ∇ₓωᵢ(x)`, so a weighting that depends on x needs
/// the projections `gᵢᵀu` of every training sample (``SampleLosses/gradientProjections(at:along:samples:)``),
/// one pass over the data; one that does not (``dependsOnOuter`` false) costs nothing there.
/// Methods are unchecked (see ``SampleLosses``' contract).
public protocol SampleWeighting: Sendable {
    /// Whether ω depends on x.
    var dependsOnOuter: Bool { get }
    /// `ωᵢ(x)` for each sample of `samples` (all n, in order, when `nil`).
    func weights(x: [Double], samples: [Int]?, sampleCount n: Int) -> [Double]
    /// `result += scale · Σᵢ projections[i] ∇ₓωᵢ(x)` over all n samples.
    func addCrossProduct(x: [Double], projections: [Double], scaledBy scale: Double, to result: inout [Double])
}

/// `ωᵢ = 1`: an unweighted training loss.
public struct UniformWeights: SampleWeighting, Equatable {
    public init() {}
    public var dependsOnOuter: Bool { false }
    public func weights(x: [Double], samples: [Int]?, sampleCount n: Int) -> [Double] {
        [Double](repeating: 1, count: samples?.count ?? n)
    }
    public func addCrossProduct(x: [Double], projections: [Double], scaledBy scale: Double, to result: inout [Double]) {}
}

/// `ωᵢ = σ(xᵢ)`: one weight in (0, 1) per training sample (q = n), as in data hyper-cleaning;
/// `∂ωᵢ/∂xⱼ = σ(xᵢ)(1 − σ(xᵢ)) δᵢⱼ`.
public struct SigmoidWeights: SampleWeighting, Equatable {
    public init() {}
    public var dependsOnOuter: Bool { true }
    public func weights(x: [Double], samples: [Int]?, sampleCount n: Int) -> [Double] {
        if let samples { return samples.map { logistic(x[$0]) } }
        return x.map(logistic)
    }
    public func addCrossProduct(x: [Double], projections: [Double], scaledBy scale: Double, to result: inout [Double]) {
        for i in 0..<projections.count {
            let s = logistic(x[i])
            result[i] += scale * s * (1 - s) * projections[i]
        }
    }
}
