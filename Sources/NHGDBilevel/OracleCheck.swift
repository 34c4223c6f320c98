import Foundation
import NHGDLinearAlgebra

/// The result of ``checkOracles(_:at:_:step:maxDenseDimension:using:)``: one relative error per oracle.
///
/// Each entry compares an oracle with a central finite difference of the quantity it
/// differentiates, along random unit directions (or, for the dense Hessian, with the HVP):
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
/// (∇φ ≈ 0, where a difference can only resolve `ε^{2/3}|φ|/s`) the check stays meaningful.
/// Vectors are compared as `‖a − d‖ / max(‖a‖, ‖d‖)`; the error is 0 when both are 0.
public struct OracleCheckReport: Sendable, CustomStringConvertible {
    /// Relative error per oracle (keys in the type's documentation).
    public var errors: [String: Double]
    /// The finite-difference steps used in y and in x.
    public var innerStep: Double, outerStep: Double

    /// Whether every error is at most `tolerance` (and none is NaN).
    ///
    /// Central differences with step `h ≈ ε^{1/3}·scale` have truncation error `h²|φ'''|/6`
    /// and rounding error `ε|φ|/h`, both `O(ε^{2/3}) ≈ 4·10⁻¹¹` relative for well-scaled
    /// smooth functions; `1e-6` leaves room for curvature and magnitude ratios of 10⁴.
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
///   - step: The difference step along unit directions; by default `ε^{1/3}·max(1, rms(y))`
///     in y and `ε^{1/3}·max(1, rms(x))` in x, which balances truncation (`∝ h²`) against
///     rounding (`∝ ε/h`) error.
///   - maxDenseDimension: The dense Hessian is checked only when p is at most this (forming
///     it costs p² memory and, for hyper-cleaning, O(K² n d²) flops).
///   - rng: Draws the unit directions and the checked samples.
/// - Throws: whatever the oracles throw (bad lengths, non-finite inputs).
/// - Complexity: about 20 oracle calls plus `2·(samples checked)` per-sample losses and, for a
///   ``DenseHessianProblem``, one dense Hessian; never O(p) oracle calls.
public func checkOracles<Problem: BilevelProblem>(
    _ problem: Problem, at x: [Double], _ y: [Double], step: Double? = nil, maxDenseDimension: Int = 1000,
    using rng: inout some RandomNumberGenerator
) throws -> OracleCheckReport {
    let p = problem.innerDimension, q = problem.outerDimension, n = problem.trainingCount
    try requireFiniteVector(x, q, "checkOracles", "x")
    try requireFiniteVector(y, p, "checkOracles", "y")
    let root = cbrt(Double.ulpOfOne)
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
        let plus = try terms.perSampleLosses(y: shifted(y, v, hy), samples: checkedSamples)
        let minus = try terms.perSampleLosses(y: shifted(y, v, -hy), samples: checkedSamples)
        var worst = 0.0
        for j in checkedSamples.indices {
            let g = gradients.column(j)
            let e = scalarError(analytic: BLAS.dot(g, v), bound: BLAS.norm(g), difference: (plus[j] - minus[j]) / (2 * hy),
                                value: (plus[j] + minus[j]) / 2, stepScale: yScale)
            worst = max(worst, e.isNaN ? .infinity : e)
        }
        errors["perSampleGradients"] = worst

        var rGradient = [Double](repeating: 0, count: p)
        try problem.regularizerGradient(x: x, y: y, into: &rGradient)
        let rPlusValue = try terms.regularizerValue(x: x, y: shifted(y, v, hy))
        let rMinusValue = try terms.regularizerValue(x: x, y: shifted(y, v, -hy))
        errors["regularizerGradient"] = scalarError(
            analytic: BLAS.dot(rGradient, v), bound: BLAS.norm(rGradient), difference: (rPlusValue - rMinusValue) / (2 * hy),
            value: (rPlusValue + rMinusValue) / 2, stepScale: yScale)

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
    let gPlusValue = try problem.innerValue(x: x, y: shifted(y, v, hy))
    let gMinusValue = try problem.innerValue(x: x, y: shifted(y, v, -hy))
    errors["innerGradient"] = scalarError(
        analytic: BLAS.dot(innerGradient, v), bound: BLAS.norm(innerGradient),
        difference: (gPlusValue - gMinusValue) / (2 * hy), value: (gPlusValue + gMinusValue) / 2, stepScale: yScale)

    // Regulariser curvature against the difference of its gradient.
    var rPlus = [Double](repeating: 0, count: p), rMinus = rPlus
    try problem.regularizerGradient(x: x, y: shifted(y, v, hy), into: &rPlus)
    try problem.regularizerGradient(x: x, y: shifted(y, v, -hy), into: &rMinus)
    let curvature = try problem.regularizerCurvature(x: x, y: y)
    errors["regularizerCurvature"] = vectorError(
        zip(curvature, v).map { $0 * $1 }, zip(rPlus, rMinus).map { ($0 - $1) / (2 * hy) })

    // Cross product: wᵀ J u = d/dt ⟨∇_y g(x + t w, y), u⟩.
    if q > 0 {
        let ju = try problem.crossProduct(x: x, y: y, u: u)
        let plus = BLAS.dot(try problem.innerGradient(x: shifted(x, w, hx), y: y), u)
        let minus = BLAS.dot(try problem.innerGradient(x: shifted(x, w, -hx), y: y), u)
        errors["crossProduct"] = scalarError(
            analytic: BLAS.dot(ju, w), bound: BLAS.norm(ju), difference: (plus - minus) / (2 * hx),
            value: (plus + minus) / 2, stepScale: xScale)
    }

    // Outer gradients against the outer value.
    let (fx, fy) = try problem.outerGradients(x: x, y: y)
    if q > 0 {
        let plus = try problem.outerValue(x: shifted(x, w, hx), y: y)
        let minus = try problem.outerValue(x: shifted(x, w, -hx), y: y)
        errors["outerGradientX"] = scalarError(
            analytic: BLAS.dot(fx, w), bound: BLAS.norm(fx), difference: (plus - minus) / (2 * hx),
            value: (plus + minus) / 2, stepScale: xScale)
    }
    let fPlus = try problem.outerValue(x: x, y: shifted(y, v, hy))
    let fMinus = try problem.outerValue(x: x, y: shifted(y, v, -hy))
    errors["outerGradientY"] = scalarError(
        analytic: BLAS.dot(fy, v), bound: BLAS.norm(fy), difference: (fPlus - fMinus) / (2 * hy),
        value: (fPlus + fMinus) / 2, stepScale: yScale)

    // Hessian-vector products against differences of the (minibatch) gradient.
    if let second = problem as? any SecondOrderBilevelProblem {
        var hv = [Double](repeating: 0, count: p)
        try second.hessianVectorProduct(x: x, y: y, v: v, samples: nil, into: &hv)
        let gPlus = try problem.innerGradient(x: x, y: shifted(y, v, hy))
        let gMinus = try problem.innerGradient(x: x, y: shifted(y, v, -hy))
        errors["hessianVectorProduct"] = vectorError(hv, zip(gPlus, gMinus).map { ($0 - $1) / (2 * hy) })

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
            let bPlus = try batchGradient(shifted(y, v, hy)), bMinus = try batchGradient(shifted(y, v, -hy))
            errors["minibatchHessianVectorProduct"] = vectorError(hbv, zip(bPlus, bMinus).map { ($0 - $1) / (2 * hy) })
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
