import Foundation
import NHGDLinearAlgebra

/// The regulariser `R(x, y)` of the inner objective `g = (1/n) Σᵢ ωᵢ(x) ℓᵢ(y) + R(x, y)`: not a
/// likelihood term, so NHGD adds its exact curvature to the Fisher sketch instead of sketching
/// it (ALGORITHMS.md §2). Conformers are separable in y (their Hessian in y is diagonal,
/// ``curvature(x:y:)``), which is what makes NHGD's operator low-rank plus diagonal.
///
/// Methods are unchecked (see ``SampleLosses``' contract): `y.count == p`, `x.count == q`.
public protocol Regularizer: Sendable {
    /// `R(x, y)`.
    func value(x: [Double], y: [Double]) -> Double
    /// `result += scale · ∇ᵧR(x, y)` (accumulating, so that an SGD direction is one pass).
    func addGradient(x: [Double], y: [Double], scaledBy scale: Double, to result: inout [Double])
    /// `diag ∇²ᵧᵧR(x, y)`, uniform when R is a multiple of `‖y‖²`.
    func curvature(x: [Double], y: [Double]) -> Diagonal
    /// `result += ∇²ᵧᵧR v`; by default `curvature ⊙ v`.
    func addHessianProduct(x: [Double], y: [Double], v: [Double], to result: inout [Double])
    /// `result += ∇²ₓᵧR u` (length q): the regulariser's part of the cross product `J u`.
    func addCrossProduct(x: [Double], y: [Double], u: [Double], to result: inout [Double])
}

extension Regularizer {
    public func addHessianProduct(x: [Double], y: [Double], v: [Double], to result: inout [Double]) {
        curvature(x: x, y: y).addProduct(v, to: &result)
    }
}

/// `R = c ‖y‖²` with a fixed coefficient c ≥ 0 (hyper-cleaning): `∇ᵧR = 2c y`,
/// `∇²ᵧᵧR = 2c I`, and no dependence on x (`∇²ₓᵧR = 0`).
public struct ScalarL2: Regularizer, Equatable {
    /// c.
    public let coefficient: Double

    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)`` unless c is
    ///   finite and ≥ 0.
    public init(coefficient: Double) throws {
        guard coefficient >= 0, coefficient.isFinite else {
            throw BilevelError.invalidHyperparameter(name: "l2", value: "\(coefficient)", requirement: "finite and ≥ 0")
        }
        self.coefficient = coefficient
    }

    public func value(x: [Double], y: [Double]) -> Double {
        let norm = BLAS.norm(y)
        return coefficient * norm * norm
    }

    public func addGradient(x: [Double], y: [Double], scaledBy scale: Double, to result: inout [Double]) {
        BLAS.axpy(2 * coefficient * scale, y, &result)
    }

    public func curvature(x: [Double], y: [Double]) -> Diagonal { .uniform(2 * coefficient, dimension: y.count) }

    public func addCrossProduct(x: [Double], y: [Double], u: [Double], to result: inout [Double]) {}
}

/// One log-strength `xⱼ` per parameter `yⱼ` (q = p; ALGORITHMS.md §7):
///
/// ```
/// R(x, y) = ½ Σⱼ e^{xⱼ} yⱼ²,   ∇ᵧR = e^x ⊙ y,   ∇²ᵧᵧR = diag(e^x),
/// ∇²ₓᵧR u = e^x ⊙ y ⊙ u        (∂/∂xⱼ of (∇ᵧR)ⱼ = e^{xⱼ} yⱼ)
/// ```
///
/// Every method is O(p).
public struct PerFeatureL2: Regularizer, Equatable {
    public init() {}

    public func value(x: [Double], y: [Double]) -> Double {
        0.5 * zip(x, y).reduce(0) { $0 + exp($1.0) * $1.1 * $1.1 }
    }

    public func addGradient(x: [Double], y: [Double], scaledBy scale: Double, to result: inout [Double]) {
        for j in 0..<y.count { result[j] += scale * exp(x[j]) * y[j] }
    }

    /// `diag(e^x)`, uniform when every `xⱼ` is the same (then the Woodbury capacitance of NHGD
    /// needs no p·m² build; ``Diagonal``).
    public func curvature(x: [Double], y: [Double]) -> Diagonal {
        let p = y.count
        if p > 0, (1..<p).allSatisfy({ x[$0] == x[0] }) { return .uniform(exp(x[0]), dimension: p) }
        return Diagonal(entries: (0..<p).map { exp(x[$0]) })
    }

    public func addCrossProduct(x: [Double], y: [Double], u: [Double], to result: inout [Double]) {
        for j in 0..<y.count { result[j] += exp(x[j]) * y[j] * u[j] }
    }
}
