import Foundation
import NHGDLinearAlgebra

/// The result of ``checkOracles(_:at:_:step:maxDenseDimension:using:)``: one relative error per oracle.
///
/// Each entry compares an oracle with a fourth-order central difference of the quantity it
/// differentiates, `(8(φ(h) − φ(−h)) − (φ(2h) − φ(−2h))) / 12h`, along random unit directions
/// (or, for the dense Hessian, with the HVP):
///
/// | key | compares |
/// | --- | --- |
/// | `gradientCombinations` | each column of `G C` (random C, a few samples) along v with the difference of `Σᵢ Cᵢⱼ ℓᵢ` |
/// | `perSampleGradients` | `gᵢᵀv` (C = I) with the difference of `ℓᵢ`, worst of a few samples |
/// | `gradientProjections` | `gᵢᵀu` with the difference of `ℓᵢ` along u |
/// | `regularizerGradient` | `∇_y Rᵀv` with the difference of `R` |
/// | `regularizerCurvature` | `diag(∇²R) ⊙ v` with the difference of `∇_y R` |
/// | `innerValueDecomposition` | `g` with `(1/n) Σ ωᵢℓᵢ + R` (a problem may override the value) |
/// | `innerGradient` | `∇_y gᵀv` with the difference of `g` |
/// | `crossProduct` | `wᵀJu` with `(⟨∇_y g(x+hw), u⟩ − ⟨∇_y g(x−hw), u⟩)/2h` (checks the weights' derivatives) |
/// | `outerGradientX`, `outerGradientY` | `∇f` along w, v with the differences of `f` |
/// | `hessianVectorProduct` | `Hv` with the difference of `∇_y g` along v ¹ |
/// | `minibatchHessianVectorProduct` | `H_B v` with the difference of the minibatch gradient ¹ |
/// | `denseHessian` | `H_dense v` with `Hv`, and `denseHessianSymmetry`: `‖H − Hᵀ‖_F/‖H‖_F` ² |
///
/// ¹ only for ``SecondOrderBilevelProblem``s, ² ``DenseHessianProblem``s with p ≤ `maxDenseDimension`.
///
/// A scalar directional derivative `a = ⟨∇φ, v⟩` is compared as
/// `|a − d| / max(‖∇φ‖‖v‖, |d|, 10⁻³|φ|/s)` with `s = max(1, rms)` of the point: relative to its
/// Cauchy–Schwarz bound, so a derivative that happens to be near zero along `v` does not
/// inflate the error, and floored by the function's own scale, so that at a stationary point
/// (∇φ ≈ 0, where a difference can only resolve `ε^{4/5}|φ|/s`) the check stays meaningful.
/// Vectors are compared as `‖a − d‖ / max(‖a‖, ‖d‖)`; the error is 0 when both are 0.
public struct OracleCheckReport: Sendable, CustomStringConvertible {
    /// Relative error per oracle (keys in the type's documentation).
    public var errors: [String: Double]
    /// The finite-difference steps used in y and in x.
    public var innerStep: Double, outerStep: Double

    /// Whether every error is at most `tolerance` (and none is NaN).
    ///
    /// The fourth-order difference with step `h ≈ ε^{1/5}·scale` has truncation error
    /// `h⁴|φ⁽⁵⁾|/30` and rounding error `1.5 ε_φ/h`, where `ε_φ` is the absolute rounding
    /// error of evaluating φ: both `O(ε^{4/5}) ≈ 3·10⁻¹³` relative for a well-scaled smooth
    /// function. `1e-6` leaves room for magnitude ratios of 10⁶ between `ε_φ/ε` and the
    /// derivative, as arise when φ is evaluated with cancellation (a cross-entropy of
    /// 2·10⁻⁷ computed as `logsumexp(z) − z_b` with |z| = O(1): a second-order difference with
    /// `h = ε^{1/3}` exceeded 1e-6 there).
    public func passed(tolerance: Double = 1e-6) -> Bool {
        errors.values.allSatisfy { $0 <= tolerance }
    }

    /// The oracle with the largest error.
    public var worst: (name: String, error: Double)? {
        errors.max { a, b in a.value < b.value || (b.value.isNaN && !a.value.isNaN) }.map { ($0.key, $0.value) }
    }

    public var description: String {
        let lines = errors.keys.sorted().map { key in
            "  \(key): \(String(format: "%.2e", errors[key]!))"
        }
        return "oracle check (h_y = \(String(format: "%.2e", innerStep)), h_x = \(String(format: "%.2e", outerStep))):\n"
            + lines.joined(separator: "\n")
    }
}

/// Checks every oracle of `problem` — its terms and the oracles derived from them — at `(x, y)`
/// against central finite differences along random directions (see ``OracleCheckReport`` for
/// what is compared and how). The door for users' own problems: `(x, y)` are validated here.
///
/// - Parameters:
///   - step: The difference step along unit directions; by default `ε^{1/5}·max(1, rms(y))`
///     in y and `ε^{1/5}·max(1, rms(x))` in x, which balances truncation (`∝ h⁴`) against
///     rounding (`∝ ε/h`) error.
///   - maxDenseDimension: The dense Hessian is checked only when p is at most this.
///   - rng: Draws the unit directions, the coefficients and the checked samples.
/// - Throws: ``BilevelError`` for a bad point; whatever the oracles throw.
/// - Complexity: about 60 oracle calls on a few samples plus a dozen full-data ones, and, for a
///   ``DenseHessianProblem``, one dense Hessian; never O(p) oracle calls.
public func checkOracles<Problem: BilevelProblem>(
    _ problem: Problem, at x: [Double], _ y: [Double], step: Double? = nil, maxDenseDimension: Int = 1000,
    using rng: inout some RandomNumberGenerator
) throws -> OracleCheckReport {
    let p = problem.innerDimension, q = problem.outerDimension, n = problem.trainingCount
    try validatePoint(problem, x: x, y: y, "checkOracles")
    let root = pow(Double.ulpOfOne, 0.2)
    func rms(_ v: [Double]) -> Double { v.isEmpty ? 0 : BLAS.norm(v) / Double(v.count).squareRoot() }
    let yScale = max(1, rms(y)), xScale = max(1, rms(x))
    let hy = step ?? root * yScale
    let hx = step ?? root * xScale
    func unitDirection(_ count: Int) -> [Double] {
        var v = (0..<count).map { _ in rng.nextGaussian() }
        let norm = BLAS.norm(v)
        if norm > 0 { BLAS.scale(&v, by: 1 / norm) }
        return v
    }
    func shifted(_ base: [Double], _ direction: [Double], _ t: Double) -> [Double] {
        var out = base
        BLAS.axpy(t, direction, &out)
        return out
    }
    /// `φ'(0)` for every entry of a vector-valued φ by the fourth-order central difference
    /// with step h, and `(φ(h) + φ(−h))/2` (≈ φ(0), for the error floor).
    func slopes(_ h: Double, _ phi: (Double) throws -> [Double]) rethrows -> (slope: [Double], value: [Double]) {
        let (a, b) = (try phi(h), try phi(-h))
        let (c, d) = (try phi(2 * h), try phi(-2 * h))
        let slope = a.indices.map { i in (8 * (a[i] - b[i]) - (c[i] - d[i])) / (12 * h) }
        return (slope, a.indices.map { (a[$0] + b[$0]) / 2 })
    }
    func scalarError(analytic: Double, bound: Double, difference: Double, value: Double, stepScale: Double) -> Double {
        let scale = max(bound, abs(difference), abs(analytic), 1e-3 * abs(value) / stepScale)
        let e = scale == 0 ? 0 : abs(analytic - difference) / scale
        return e.isNaN ? .infinity : e
    }
    /// The worst scalar error over entries: `analytic[j]` against the slope of φ's entry j.
    func worstScalarError(_ analytic: [Double], bounds: [Double], _ h: Double, stepScale: Double,
                          _ phi: (Double) throws -> [Double]) rethrows -> Double {
        let differences = try slopes(h, phi)
        return analytic.indices.map { j in
            scalarError(analytic: analytic[j], bound: bounds[j], difference: differences.slope[j],
                        value: differences.value[j], stepScale: stepScale)
        }.max() ?? 0
    }
    func vectorError(_ analytic: [Double], _ difference: [Double]) -> Double {
        let diff = zip(analytic, difference).map { $0 - $1 }
        let scale = max(BLAS.norm(analytic), BLAS.norm(difference))
        return scale == 0 ? 0 : BLAS.norm(diff) / scale
    }
    var errors = [String: Double]()
    let v = unitDirection(p), w = unitDirection(q), u = unitDirection(p)
    let checked = Array((0..<n).shuffled(using: &rng).prefix(3))
    let batch = Array((0..<n).shuffled(using: &rng).prefix(8))
    let data = problem.data

    if !checked.isEmpty {
        // G C for random C, column by column along v.
        var c = Matrix(rows: checked.count, columns: 2)
        for i in c.storage.indices { c.storage[i] = rng.nextGaussian() }
        var combinations = Matrix(rows: p, columns: 2)
        try data.gradientCombinations(at: y, samples: checked, coefficients: c, into: &combinations)
        errors["gradientCombinations"] = try worstScalarError(
            (0..<2).map { BLAS.dot(combinations.column($0), v) }, bounds: (0..<2).map { BLAS.norm(combinations.column($0)) },
            hy, stepScale: yScale) { t in
                let losses = try data.losses(at: shifted(y, v, t), samples: checked)
                return (0..<2).map { j in (0..<checked.count).reduce(0) { $0 + c[$1, j] * losses[$1] } }
            }
        let gradients = try data.perSampleGradients(at: y, samples: checked)
        errors["perSampleGradients"] = try worstScalarError(
            checked.indices.map { BLAS.dot(gradients.column($0), v) },
            bounds: checked.indices.map { BLAS.norm(gradients.column($0)) }, hy, stepScale: yScale) {
                try data.losses(at: shifted(y, v, $0), samples: checked)
            }
        let projections = try data.gradientProjections(at: y, along: u, samples: checked)
        errors["gradientProjections"] = try worstScalarError(
            projections, bounds: checked.indices.map { BLAS.norm(gradients.column($0)) }, hy, stepScale: yScale) {
                try data.losses(at: shifted(y, u, $0), samples: checked)
            }
    }

    // The regulariser: gradient against its value, curvature against its gradient.
    func regularizerGradient(_ at: [Double]) -> [Double] {
        var gradient = [Double](repeating: 0, count: p)
        problem.regularizer.addGradient(x: x, y: at, scaledBy: 1, to: &gradient)
        return gradient
    }
    let rGradient = regularizerGradient(y)
    errors["regularizerGradient"] = worstScalarError([BLAS.dot(rGradient, v)], bounds: [BLAS.norm(rGradient)], hy,
                                                     stepScale: yScale) {
        [problem.regularizer.value(x: x, y: shifted(y, v, $0))]
    }
    let curvature = problem.regularizerCurvature(x: x, y: y)
    errors["regularizerCurvature"] = vectorError((0..<p).map { curvature[$0] * v[$0] },
                                                 slopes(hy) { regularizerGradient(shifted(y, v, $0)) }.slope)

    // g = (1/n) Σ ωᵢ ℓᵢ + R, and its gradient.
    let value = try problem.innerValue(x: x, y: y)
    let losses = try data.losses(at: y, samples: nil)
    let weights = problem.sampleWeights(x: x, samples: nil)
    let decomposed = (n > 0 ? zip(weights, losses).reduce(0) { $0 + $1.0 * $1.1 } / Double(n) : 0)
        + problem.regularizer.value(x: x, y: y)
    let valueScale = max(abs(value), abs(decomposed))
    errors["innerValueDecomposition"] = valueScale == 0 ? 0 : abs(value - decomposed) / valueScale
    let innerGradient = try problem.innerGradient(x: x, y: y)
    errors["innerGradient"] = try worstScalarError([BLAS.dot(innerGradient, v)], bounds: [BLAS.norm(innerGradient)], hy,
                                                   stepScale: yScale) {
        [try problem.innerValue(x: x, y: shifted(y, v, $0))]
    }

    // Cross product: wᵀ J u = d/dt ⟨∇_y g(x + t w, y), u⟩.
    if q > 0 {
        let ju = try problem.crossProduct(x: x, y: y, u: u)
        errors["crossProduct"] = try worstScalarError([BLAS.dot(ju, w)], bounds: [BLAS.norm(ju)], hx, stepScale: xScale) {
            [BLAS.dot(try problem.innerGradient(x: shifted(x, w, $0), y: y), u)]
        }
    }

    // Outer gradients against the outer value.
    let (fx, fy) = try problem.outerGradients(x: x, y: y)
    if q > 0 {
        errors["outerGradientX"] = try worstScalarError([BLAS.dot(fx, w)], bounds: [BLAS.norm(fx)], hx, stepScale: xScale) {
            [try problem.outerValue(x: shifted(x, w, $0), y: y)]
        }
    }
    errors["outerGradientY"] = try worstScalarError([BLAS.dot(fy, v)], bounds: [BLAS.norm(fy)], hy, stepScale: yScale) {
        [try problem.outerValue(x: x, y: shifted(y, v, $0))]
    }

    // Hessian-vector products against differences of the (minibatch) gradient.
    if let second = problem as? any SecondOrderBilevelProblem {
        errors.merge(try checkSecondOrder(second, x: x, y: y, v: v, batch: batch, hy: hy,
                                          maxDenseDimension: maxDenseDimension, slopes: { try slopes(hy, $0).slope },
                                          vectorError: vectorError)) { $1 }
    }
    return OracleCheckReport(errors: errors, innerStep: hy, outerStep: hx)
}

/// The second-order part of ``checkOracles(_:at:_:step:maxDenseDimension:using:)``.
private func checkSecondOrder<Problem: SecondOrderBilevelProblem>(
    _ problem: Problem, x: [Double], y: [Double], v: [Double], batch: [Int], hy: Double, maxDenseDimension: Int,
    slopes: ((Double) throws -> [Double]) throws -> [Double], vectorError: ([Double], [Double]) -> Double
) throws -> [String: Double] {
    let p = problem.innerDimension
    func shifted(_ t: Double) -> [Double] {
        var out = y
        BLAS.axpy(t, v, &out)
        return out
    }
    var errors = [String: Double]()
    var hv = [Double](repeating: 0, count: p)
    try problem.hessianVectorProduct(x: x, y: y, v: v, samples: nil, into: &hv)
    errors["hessianVectorProduct"] = vectorError(hv, try slopes { try problem.innerGradient(x: x, y: shifted($0)) })
    if !batch.isEmpty {
        var hbv = [Double](repeating: 0, count: p)
        try problem.hessianVectorProduct(x: x, y: y, v: v, samples: batch, into: &hbv)
        errors["minibatchHessianVectorProduct"] = vectorError(
            hbv, try slopes { try problem.innerGradient(x: x, y: shifted($0), samples: batch) })
    }
    if let dense = problem as? any DenseHessianProblem, p <= maxDenseDimension {
        let h = try dense.hessian(x: x, y: y, maxBytes: .max)
        var denseProduct = [Double](repeating: 0, count: p)
        try BLAS.gemv(.none, h, v, &denseProduct)
        errors["denseHessian"] = vectorError(hv, denseProduct)
        let asymmetry = zip(h.storage, h.transposed.storage).map { $0 - $1 }
        let norm = BLAS.norm(h.storage)
        errors["denseHessianSymmetry"] = norm == 0 ? 0 : BLAS.norm(asymmetry) / norm
    }
    return errors
}

/// ``checkOracles(_:at:_:step:maxDenseDimension:using:)`` with directions drawn from
/// `Xoshiro256StarStar(seed:)`.
public func checkOracles<Problem: BilevelProblem>(
    _ problem: Problem, at x: [Double], _ y: [Double], step: Double? = nil, maxDenseDimension: Int = 1000,
    seed: UInt64 = 0x0_5EED
) throws -> OracleCheckReport {
    var rng = Xoshiro256StarStar(seed: seed)
    return try checkOracles(problem, at: x, y, step: step, maxDenseDimension: maxDenseDimension, using: &rng)
}
