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
/// | `perSampleGradients` | `gᵢᵀv` with `(ℓᵢ(y+hv) − ℓᵢ(y−hv))/2h`, worst of a few samples ¹ |
/// | `regularizerGradient` | `∇_y Rᵀv` with the difference of `R` ¹ |
/// | `innerValueDecomposition` | `g` with `(1/n) Σ ωᵢℓᵢ + R` (checks the weights `ωᵢ`) ¹ |
/// | `innerGradient` | `∇_y gᵀv` (from per-sample gradients, weights, `∇R`) with the difference of `g` |
/// | `regularizerCurvature` | `diag(∇²R) ⊙ v` with the difference of `∇_y R` |
/// | `crossProduct` | `wᵀJu` with `(⟨∇_y g(x+hw), u⟩ − ⟨∇_y g(x−hw), u⟩)/2h` |
/// | `outerGradientX`, `outerGradientY` | `∇f` along w, v with the differences of `f` |
/// | `hessianVectorProduct` | `Hv` with the difference of `∇_y g` along v ² |
/// | `minibatchHessianVectorProduct` | `H_B v` with the difference of the minibatch gradient ² |
/// | `denseHessian` | `H_dense v` with `Hv`, and `denseHessianSymmetry`: `‖H − Hᵀ‖_F/‖H‖_F` ³ ⁴ |
///
/// ¹ only for ``PerSampleLossProblem``s, ² ``SecondOrderBilevelProblem``s, ³ ``DenseHessianProblem``s,
/// ⁴ with p ≤ `maxDenseDimension`.
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

/// Checks every oracle of `problem` at `(x, y)` against central finite differences along
/// random directions (see ``OracleCheckReport`` for what is compared and how).
///
/// - Parameters:
///   - step: The difference step along unit directions; by default `ε^{1/5}·max(1, rms(y))`
///     in y and `ε^{1/5}·max(1, rms(x))` in x, which balances truncation (`∝ h⁴`) against
///     rounding (`∝ ε/h`) error.
///   - maxDenseDimension: The dense Hessian is checked only when p is at most this (forming
///     it costs p² memory and, for hyper-cleaning, O(K² n d²) flops).
///   - rng: Draws the unit directions and the checked samples.
/// - Throws: whatever the oracles throw (bad lengths, non-finite inputs).
/// - Complexity: about 40 oracle calls plus `4·(samples checked)` per-sample losses and, for a
///   ``DenseHessianProblem``, one dense Hessian; never O(p) oracle calls.
public func checkOracles<Problem: BilevelProblem>(
    _ problem: Problem, at x: [Double], _ y: [Double], step: Double? = nil, maxDenseDimension: Int = 1000,
    using rng: inout some RandomNumberGenerator
) throws -> OracleCheckReport {
    let p = problem.innerDimension, q = problem.outerDimension, n = problem.trainingCount
    try requireFiniteVector(x, q, "checkOracles", "x")
    try requireFiniteVector(y, p, "checkOracles", "y")
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
    /// The same for a scalar φ.
    func slope(_ h: Double, _ phi: (Double) throws -> Double) rethrows -> (slope: Double, value: Double) {
        let both = try slopes(h) { [try phi($0)] }
        return (both.slope[0], both.value[0])
    }
    func scalarError(analytic: Double, bound: Double, difference: Double, value: Double, stepScale: Double) -> Double {
        let scale = max(bound, abs(difference), abs(analytic), 1e-3 * abs(value) / stepScale)
        return scale == 0 ? 0 : abs(analytic - difference) / scale
    }
    func vectorError(_ analytic: [Double], _ difference: [Double]) -> Double {
        let diff = zip(analytic, difference).map { $0 - $1 }
        let scale = max(BLAS.norm(analytic), BLAS.norm(difference))
        return scale == 0 ? 0 : BLAS.norm(diff) / scale
    }
    var errors = [String: Double]()
    let v = unitDirection(p), w = unitDirection(q), u = unitDirection(p)
    let checkedSamples = Array((0..<n).shuffled(using: &rng).prefix(3))
    let batch = Array((0..<n).shuffled(using: &rng).prefix(8))

    // Per-sample gradients, regulariser gradient, the weights (needs the loss terms).
    if let terms = problem as? any PerSampleLossProblem, !checkedSamples.isEmpty {
        var gradients = Matrix(rows: p, columns: checkedSamples.count)
        var weights = [Double](repeating: 0, count: checkedSamples.count)
        try problem.perSampleGradients(x: x, y: y, samples: checkedSamples, into: &gradients, weights: &weights)
        let lossSlopes = try slopes(hy) { try terms.perSampleLosses(y: shifted(y, v, $0), samples: checkedSamples) }
        var worst = 0.0
        for j in checkedSamples.indices {
            let g = gradients.column(j)
            let e = scalarError(analytic: BLAS.dot(g, v), bound: BLAS.norm(g), difference: lossSlopes.slope[j],
                                value: lossSlopes.value[j], stepScale: yScale)
            worst = max(worst, e.isNaN ? .infinity : e)
        }
        errors["perSampleGradients"] = worst

        var rGradient = [Double](repeating: 0, count: p)
        try problem.regularizerGradient(x: x, y: y, into: &rGradient)
        let regularizer = try slope(hy) { try terms.regularizerValue(x: x, y: shifted(y, v, $0)) }
        errors["regularizerGradient"] = scalarError(
            analytic: BLAS.dot(rGradient, v), bound: BLAS.norm(rGradient), difference: regularizer.slope,
            value: regularizer.value, stepScale: yScale)

        // g = (1/n) Σ ωᵢ ℓᵢ + R: the weights are checked against the value.
        let all = Array(0..<n)
        let losses = try terms.perSampleLosses(y: y, samples: all)
        var allGradients = Matrix(rows: p, columns: 0)
        var allWeights = [Double](repeating: 0, count: 0)
        var weighted = 0.0
        var start = 0
        while start < n {  // weights in blocks, to bound the p × block scratch
            let chunk = Array(start..<min(n, start + 64))
            if allGradients.columns != chunk.count {
                allGradients = Matrix(rows: p, columns: chunk.count)
                allWeights = [Double](repeating: 0, count: chunk.count)
            }
            try problem.perSampleGradients(x: x, y: y, samples: chunk, into: &allGradients, weights: &allWeights)
            for (j, i) in chunk.enumerated() { weighted += allWeights[j] * losses[i] }
            start += chunk.count
        }
        let decomposed = weighted / Double(n) + (try terms.regularizerValue(x: x, y: y))
        let value = try problem.innerValue(x: x, y: y)
        let scale = max(abs(value), abs(decomposed))
        errors["innerValueDecomposition"] = scale == 0 ? 0 : abs(value - decomposed) / scale
    }

    // Full inner gradient against the inner value.
    let innerGradient = try problem.innerGradient(x: x, y: y)
    let inner = try slope(hy) { try problem.innerValue(x: x, y: shifted(y, v, $0)) }
    errors["innerGradient"] = scalarError(
        analytic: BLAS.dot(innerGradient, v), bound: BLAS.norm(innerGradient),
        difference: inner.slope, value: inner.value, stepScale: yScale)

    // Regulariser curvature against the difference of its gradient.
    let regularizerGradients = try slopes(hy) { t in
        var gradient = [Double](repeating: 0, count: p)
        try problem.regularizerGradient(x: x, y: shifted(y, v, t), into: &gradient)
        return gradient
    }
    let curvature = try problem.regularizerCurvature(x: x, y: y)
    errors["regularizerCurvature"] = vectorError(zip(curvature, v).map { $0 * $1 }, regularizerGradients.slope)

    // Cross product: wᵀ J u = d/dt ⟨∇_y g(x + t w, y), u⟩.
    if q > 0 {
        let ju = try problem.crossProduct(x: x, y: y, u: u)
        let cross = try slope(hx) { BLAS.dot(try problem.innerGradient(x: shifted(x, w, $0), y: y), u) }
        errors["crossProduct"] = scalarError(
            analytic: BLAS.dot(ju, w), bound: BLAS.norm(ju), difference: cross.slope,
            value: cross.value, stepScale: xScale)
    }

    // Outer gradients against the outer value.
    let (fx, fy) = try problem.outerGradients(x: x, y: y)
    if q > 0 {
        let outer = try slope(hx) { try problem.outerValue(x: shifted(x, w, $0), y: y) }
        errors["outerGradientX"] = scalarError(
            analytic: BLAS.dot(fx, w), bound: BLAS.norm(fx), difference: outer.slope,
            value: outer.value, stepScale: xScale)
    }
    let outer = try slope(hy) { try problem.outerValue(x: x, y: shifted(y, v, $0)) }
    errors["outerGradientY"] = scalarError(
        analytic: BLAS.dot(fy, v), bound: BLAS.norm(fy), difference: outer.slope,
        value: outer.value, stepScale: yScale)

    // Hessian-vector products against differences of the (minibatch) gradient.
    if let second = problem as? any SecondOrderBilevelProblem {
        var hv = [Double](repeating: 0, count: p)
        try second.hessianVectorProduct(x: x, y: y, v: v, samples: nil, into: &hv)
        let gradients = try slopes(hy) { try problem.innerGradient(x: x, y: shifted(y, v, $0)) }
        errors["hessianVectorProduct"] = vectorError(hv, gradients.slope)

        if !batch.isEmpty {
            func batchGradient(_ at: [Double]) throws -> [Double] {
                var block = Matrix(rows: p, columns: batch.count)
                var weights = [Double](repeating: 0, count: batch.count)
                try problem.perSampleGradients(x: x, y: at, samples: batch, into: &block, weights: &weights)
                var total = [Double](repeating: 0, count: p)
                try problem.regularizerGradient(x: x, y: at, into: &total)
                try BLAS.gemv(.none, alpha: 1 / Double(batch.count), block, weights, beta: 1, &total)
                return total
            }
            var hbv = [Double](repeating: 0, count: p)
            try second.hessianVectorProduct(x: x, y: y, v: v, samples: batch, into: &hbv)
            let batchGradients = try slopes(hy) { try batchGradient(shifted(y, v, $0)) }
            errors["minibatchHessianVectorProduct"] = vectorError(hbv, batchGradients.slope)
        }

        if let dense = problem as? any DenseHessianProblem, p <= maxDenseDimension {
            let h = try dense.hessian(x: x, y: y)
            var denseProduct = [Double](repeating: 0, count: p)
            try BLAS.gemv(.none, h, v, &denseProduct)
            errors["denseHessian"] = vectorError(hv, denseProduct)
            let asymmetry = zip(h.storage, h.transposed.storage).map { $0 - $1 }
            let norm = BLAS.norm(h.storage)
            errors["denseHessianSymmetry"] = norm == 0 ? 0 : BLAS.norm(asymmetry) / norm
        }
    }
    return OracleCheckReport(errors: errors, innerStep: hy, outerStep: hx)
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
