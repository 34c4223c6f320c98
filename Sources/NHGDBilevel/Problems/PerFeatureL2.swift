import Foundation
import NHGDLinearAlgebra

/// The per-feature L2 regulariser of ``RidgeRegression``, ``LogisticRegression`` and
/// ``SyntheticLogisticRegression`` (ALGORITHMS.md §7): one log-strength `xⱼ` per parameter
/// `yⱼ` (q = p),
///
/// ```
/// R(x, y) = ½ Σⱼ e^{xⱼ} yⱼ²
/// ∇_y R = e^x ⊙ y,   ∇²_yy R = diag(e^x),   ∇ₓR = ½ e^x ⊙ y²,
/// J u = ∇²_xy R · u = e^x ⊙ y ⊙ u        (∂/∂xⱼ of (∇_y R)ⱼ = e^{xⱼ} yⱼ)
/// ```
///
/// The functions take checked arguments (equal lengths, finite); the problems check them first
/// with their own operation names. Every function is O(p).
enum PerFeatureL2 {
    /// `R = ½ Σⱼ e^{xⱼ} yⱼ²` (summed in index order).
    static func value(x: [Double], y: [Double]) -> Double {
        0.5 * zip(x, y).reduce(0) { $0 + exp($1.0) * $1.1 * $1.1 }
    }

    /// `gradient = ∇_y R = e^x ⊙ y` (`gradient` has length p).
    static func gradient(x: [Double], y: [Double], into gradient: inout [Double]) {
        for j in 0..<y.count { gradient[j] = exp(x[j]) * y[j] }
    }

    /// `diag ∇²_yy R = e^x`.
    static func curvature(x: [Double]) -> [Double] { x.map { exp($0) } }

    /// `J u = e^x ⊙ y ⊙ u`; the exact hypergradient of a problem with `∇ₓf = 0` is
    /// `−J H⁻¹∇_y f`, i.e. the negation of this with `u = H⁻¹∇_y f`.
    static func crossProduct(x: [Double], y: [Double], u: [Double]) -> [Double] {
        (0..<y.count).map { exp(x[$0]) * y[$0] * u[$0] }
    }

    /// `product += e^x ⊙ v`: the regulariser's part of a Hessian-vector product.
    static func addCurvatureProduct(x: [Double], v: [Double], to product: inout [Double]) {
        for j in 0..<v.count { product[j] += exp(x[j]) * v[j] }
    }

    /// `h += diag(e^x)`: the regulariser's part of a dense Hessian (`h` is p × p).
    static func addCurvature(x: [Double], to h: inout Matrix) {
        for j in 0..<x.count { h[j, j] += exp(x[j]) }
    }
}
