import Foundation
import NHGDLinearAlgebra
import NHGDTestSupport

/// A random `diag(d) + U Uᵀ` with damping λ whose conditioning is controlled.
///
/// `U = D_λ^{1/2} Q diag(√μ) Wᵀ` with `Q` orthonormal p×k and `W` orthogonal k×k, so the normalised low-rank part
/// `D_λ^{-1/2} U Uᵀ D_λ^{-1/2} = Q diag(μ) Qᵀ` has eigenvalues exactly μ (log-spaced in
/// `[μmax/spread, μmax]`) and zeros. Then
/// `A + λI = D_λ^{1/2} (I + Q diag(μ) Qᵀ) D_λ^{1/2}`, whose middle factor has condition `1 + μmax`
/// (k < p), and the capacitance `C = I + W diag(μ) Wᵀ` has the same.
/// With the diagonal spread `max d_λ / min d_λ`, κ(A + λI) ≤ (1 + μmax)·spread_d; the draws
/// below put μmax up to 1e10 and the diagonal spread up to 1e2.
struct WoodburyCase {
    var diagonal: [Double]
    var factor: Matrix
    var damping: Double
    /// `‖C‖₂ = 1 + μmax` (1 when k = 0): the amplification of rounding errors by the
    /// cancellation in `D⁻¹v − D⁻¹U C⁻¹ UᵀD⁻¹v` when v lies in the span of the low-rank part.
    var capacitanceNorm: Double
    var p: Int { diagonal.count }
    var k: Int { factor.columns }
    var shifted: [Double] { diagonal.map { $0 + damping } }

    init(_ c: inout PropertyCase, minDimension: Int = 1, maxDimension: Int = 300, maxRank: Int = 64,
         minCapacitanceCondition: Double = 1e-3, maxCapacitanceCondition: Double = 1e10, fullRank: Bool = false) {
        let p = c.size(minDimension...maxDimension)
        let k = fullRank ? p : c.size(0...min(p, maxRank))
        let diagonalSpread = c.logUniform(in: 1...100)
        let scale = c.logUniform(in: 1e-3...1e3)
        let lambda = c.bool() ? 0 : scale * c.logUniform(in: 1e-6...1)
        damping = lambda
        // Diagonal: log-uniform in [scale, scale·spread]; with damping > 0 some entries may be
        // zero or slightly negative (only d + λ > 0 is required).
        var d = c.logUniformVector(count: p, in: scale...(scale * diagonalSpread))
        if lambda > 0, c.bool() {
            for _ in 0..<c.int(in: 1...max(1, p / 4)) { d[c.int(in: 0...(p - 1))] = -lambda * c.double(in: 0...0.9) }
        }
        diagonal = d
        let muMax = c.logUniform(in: minCapacitanceCondition...maxCapacitanceCondition)
        capacitanceNorm = k == 0 ? 1 : 1 + muMax
        let mu = logSpacedSpectrum(count: k, conditionNumber: c.logUniform(in: 1...1e4), largest: muMax)
        // Q diag(√μ) Wᵀ with W a random k×k rotation: U Uᵀ is unchanged, but the capacitance
        // I + W diag(μ) Wᵀ is a full matrix rather than a diagonal one that Cholesky factors exactly.
        let qs = c.matrix(rows: p, singularValues: mu.map { $0.squareRoot() })
        let rotation = c.orthonormalColumns(rows: k, columns: k)
        var u = Matrix(rows: p, columns: k)
        try! BLAS.gemm(.none, .transpose, qs, rotation, &u)
        let sqrtShifted = d.map { ($0 + lambda).squareRoot() }
        for j in 0..<k { for i in 0..<p { u[i, j] *= sqrtShifted[i] } }
        factor = u
        c.note("p=\(p) k=\(k) λ=\(lambda) diagonal spread=\(diagonalSpread) μmax=\(muMax)")
    }

    func makeOperator() throws -> LowRankPlusDiagonal {
        try LowRankPlusDiagonal(diagonal: diagonal, factor: factor)
    }

    /// `A + λI = diag(d + λ) + U Uᵀ`, formed with `gemm` (checked against loops in BLASPropertyTests).
    func dense() throws -> Matrix {
        var a = Matrix(rows: p, columns: p)
        try BLAS.gemm(.none, .transpose, factor, factor, &a)
        for i in 0..<p { a[i, i] += diagonal[i] + damping }
        return a
    }
}

/// Error-free transformations (Ogita, Rump and Oishi, "Accurate sum and dot product",
/// SIAM J. Sci. Comput. 26(6), 2005): with `p = fl(a·b)`, `a·b = p + fma(a, b, −p)` exactly;
/// `twoSum` gives `a + b = s + e` exactly.
@inline(__always) func fmaError(_ a: Double, _ b: Double, _ p: Double) -> Double { (-p).addingProduct(a, b) }
@inline(__always) func twoSum(_ a: Double, _ b: Double) -> (Double, Double) {
    let s = a + b, z = s - a
    return (s, (a - (s - z)) + (b - z))
}

/// A double-double accumulator: `Dot2` of Ogita–Rump–Oishi, as accurate as if computed in
/// twice the working precision and then rounded.
struct CompensatedSum {
    var hi = 0.0, lo = 0.0
    mutating func add(_ x: Double) { let (s, e) = twoSum(hi, x); hi = s; lo += e }
    mutating func addProduct(_ a: Double, _ b: Double) {
        let (p, e) = (a * b, fmaError(a, b, a * b))
        add(p); lo += e
    }
    var value: Double { hi + lo }
}

/// `(diag(d) + λI + U Uᵀ) x − v`, computed in doubled precision from `d`, `U` directly (no
/// rounded dense matrix), so its own error is about eps·|residual| plus eps²·(|A||x| + |v|):
/// negligible next to the backward errors being measured.
func accurateResidual(_ w: WoodburyCase, _ x: [Double], _ v: [Double]) -> [Double] {
    let p = w.p, k = w.k
    // t = Uᵀx as double-double (hi, lo).
    var tHi = [Double](repeating: 0, count: k), tLo = [Double](repeating: 0, count: k)
    w.factor.storage.withUnsafeBufferPointer { u in
        for j in 0..<k {
            var s = CompensatedSum()
            for i in 0..<p { s.addProduct(u[i + j * p], x[i]) }
            tHi[j] = s.hi; tLo[j] = s.lo
        }
    }
    var r = [Double](repeating: 0, count: p)
    w.factor.storage.withUnsafeBufferPointer { u in
        for i in 0..<p {
            var s = CompensatedSum()
            s.addProduct(w.diagonal[i], x[i])
            s.addProduct(w.damping, x[i])
            s.add(-v[i])
            for j in 0..<k {
                s.addProduct(u[i + j * p], tHi[j])
                s.addProduct(u[i + j * p], tLo[j])
            }
            r[i] = s.value
        }
    }
    return r
}

/// The normwise backward error `‖(A+λI)x − v‖ / (‖A+λI‖ ‖x‖ + ‖v‖)` (Rigal and Gaches, 1967;
/// Higham, *Accuracy and Stability*, Thm 7.1): the smallest relative perturbation of `A + λI`
/// and `v` for which `x` is an exact solution.
func backwardError(_ w: WoodburyCase, norm: Double, _ x: [Double], _ v: [Double]) -> Double {
    BLAS.norm(accurateResidual(w, x, v)) / (norm * BLAS.norm(x) + BLAS.norm(v))
}
