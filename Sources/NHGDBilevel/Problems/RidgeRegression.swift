import Foundation
import NHGDLinearAlgebra

/// Linear-Gaussian regression with one L2 strength per feature: the bilevel problem with a
/// closed-form solution, and the exact reference for every hypergradient estimator
/// (ALGORITHMS.md §7).
///
/// With training inputs `aᵢ ∈ ℝ^d` (the columns of `A`, d×n), targets `bᵢ`, noise scale `s`,
/// and `x, y ∈ ℝ^d` (q = p = d):
///
/// ```
/// ℓᵢ(y) = (bᵢ − aᵢᵀy)² / (2s²),   ωᵢ = 1,   R(x, y) = ½ Σⱼ e^{xⱼ} yⱼ²
/// g(x, y) = (1/n) Σᵢ ℓᵢ(y) + R(x, y)
/// f(x, y) = (1/2m) ‖A_valᵀ y − b_val‖²
/// gᵢ = −rᵢ aᵢ / s²  (rᵢ = bᵢ − aᵢᵀy),    H = A Aᵀ/(n s²) + diag(e^x)
/// y*(x) = H⁻¹ A b/(n s²),    J u = e^x ⊙ y ⊙ u,    ∇Φ(x) = −e^x ⊙ y* ⊙ H⁻¹∇_y f
/// ```
///
/// Metrics: `validation_loss` (= f), `test_loss` (same loss on the test set, when there is
/// one), `parameter_error` (`‖y − y_true‖/‖y_true‖`, for ``synthetic(n:m:d:noise:testCount:using:)``
/// problems, whose generating parameters are known).
public struct RidgeRegression: DenseHessianProblem, PerSampleLossProblem {
    /// Training inputs, d × n (column i is aᵢ).
    public let trainingInputs: Matrix
    /// Training targets (length n).
    public let trainingTargets: [Double]
    /// Validation inputs, d × m.
    public let validationInputs: Matrix
    /// Validation targets (length m).
    public let validationTargets: [Double]
    /// Test inputs, d × m_test (zero columns when there is no test set).
    public let testInputs: Matrix
    /// Test targets.
    public let testTargets: [Double]
    /// The noise scale `s` of the likelihood.
    public let noise: Double
    /// The parameters that generated the data, when known (synthetic problems).
    public let generatingParameters: [Double]?

    /// `A Aᵀ / (n s²)` (d × d), cached so the full-batch Hessian costs O(d²).
    public let dataHessian: Matrix
    /// `A b / (n s²)` (length d).
    let scaledCrossMoment: [Double]

    public var innerDimension: Int { trainingInputs.rows }
    public var outerDimension: Int { trainingInputs.rows }
    public var trainingCount: Int { trainingInputs.columns }
    public var validationCount: Int { validationInputs.columns }

    /// A ridge problem on the given data.
    /// - Throws: ``BilevelError`` for mismatched shapes, empty training or validation sets,
    ///   non-finite data, or a noise scale that is not positive and finite.
    /// - Complexity: O(n d²) for the cached `A Aᵀ`.
    public init(
        trainingInputs: Matrix, trainingTargets: [Double], validationInputs: Matrix, validationTargets: [Double],
        testInputs: Matrix? = nil, testTargets: [Double] = [], noise: Double = 1,
        generatingParameters: [Double]? = nil
    ) throws {
        let d = trainingInputs.rows
        let test = testInputs ?? Matrix(rows: d, columns: 0)
        guard d >= 1, trainingInputs.columns >= 1, validationInputs.columns >= 1 else {
            throw BilevelError.invalidHyperparameter(
                name: "data", value: "d = \(d), n = \(trainingInputs.columns), m = \(validationInputs.columns)",
                requirement: "at least one feature, training and validation sample")
        }
        guard validationInputs.rows == d, test.rows == d else {
            throw BilevelError.dimensionMismatch(
                operation: "RidgeRegression.init", expected: "\(d) rows in every input matrix",
                actual: "validation \(validationInputs.rows), test \(test.rows)")
        }
        try requireCount(trainingTargets, trainingInputs.columns, "RidgeRegression.init", "trainingTargets")
        try requireCount(validationTargets, validationInputs.columns, "RidgeRegression.init", "validationTargets")
        try requireCount(testTargets, test.columns, "RidgeRegression.init", "testTargets")
        for (m, label) in [(trainingInputs, "trainingInputs"), (validationInputs, "validationInputs"), (test, "testInputs")]
        where m.firstNonFiniteIndex != nil {
            throw BilevelError.nonFinite(operation: "RidgeRegression.init", argument: label)
        }
        for (v, label) in [(trainingTargets, "trainingTargets"), (validationTargets, "validationTargets"),
                           (testTargets, "testTargets")] {
            try requireAllFinite(v, "RidgeRegression.init", label)
        }
        guard noise > 0, noise.isFinite else {
            throw BilevelError.invalidHyperparameter(name: "noise", value: "\(noise)", requirement: "positive and finite")
        }
        if let g = generatingParameters { try requireFiniteVector(g, d, "RidgeRegression.init", "generatingParameters") }
        self.trainingInputs = trainingInputs
        self.trainingTargets = trainingTargets
        self.validationInputs = validationInputs
        self.validationTargets = validationTargets
        self.testInputs = test
        self.testTargets = testTargets
        self.noise = noise
        self.generatingParameters = generatingParameters
        let scale = 1 / (Double(trainingInputs.columns) * noise * noise)
        var gram = Matrix(rows: d, columns: d)
        try BLAS.syrk(.none, alpha: scale, trainingInputs, &gram)
        dataHessian = gram
        var moment = [Double](repeating: 0, count: d)
        try BLAS.gemv(.none, alpha: scale, trainingInputs, trainingTargets, &moment)
        scaledCrossMoment = moment
    }

    /// A well-specified linear-Gaussian problem: inputs `aᵢ ~ N(0, I_d)`, true parameters
    /// `y_true ~ N(0, I_d / d)` (so the signal `aᵀy_true` has unit variance), targets
    /// `b = aᵀ y_true + s ε` with `ε ~ N(0, 1)`, for the training, validation and test sets.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)`` for sizes < 1
    ///   (test may be 0) or a bad noise scale.
    public static func synthetic(
        n: Int, m: Int, d: Int, noise: Double, testCount: Int = 0, using rng: inout some RandomNumberGenerator
    ) throws -> RidgeRegression {
        guard n >= 1, m >= 1, d >= 1, testCount >= 0 else {
            throw BilevelError.invalidHyperparameter(
                name: "synthetic sizes", value: "n = \(n), m = \(m), d = \(d), test = \(testCount)",
                requirement: "n, m, d ≥ 1 and test ≥ 0")
        }
        guard noise > 0, noise.isFinite else {
            throw BilevelError.invalidHyperparameter(name: "noise", value: "\(noise)", requirement: "positive and finite")
        }
        let truth = (0..<d).map { _ in rng.nextGaussian() / Double(d).squareRoot() }
        func draw(_ count: Int) throws -> (Matrix, [Double]) {
            let a = Matrix.gaussian(rows: d, columns: count, using: &rng)
            var b = [Double](repeating: 0, count: count)
            try BLAS.gemv(.transpose, a, truth, &b)
            for i in 0..<count { b[i] += noise * rng.nextGaussian() }
            return (a, b)
        }
        let (a, b) = try draw(n), (av, bv) = try draw(m), (at, bt) = try draw(testCount)
        return try RidgeRegression(
            trainingInputs: a, trainingTargets: b, validationInputs: av, validationTargets: bv,
            testInputs: at, testTargets: bt, noise: noise, generatingParameters: truth)
    }

    public func initialOuter() -> [Double] { [Double](repeating: 0, count: outerDimension) }
    public func initialInner() -> [Double] { [Double](repeating: 0, count: innerDimension) }

    /// `gᵢ = −(bᵢ − aᵢᵀy) aᵢ / s²` into the columns of `gradients`; all weights 1.
    /// - Complexity: O(d · samples.count): a column gather, one `gemv`, one scaling pass.
    public func perSampleGradients(
        x: [Double], y: [Double], samples: [Int], into gradients: inout Matrix, weights: inout [Double]
    ) throws {
        let op = "RidgeRegression.perSampleGradients"
        try check(x, y, op)
        try requireSamples(samples, trainingCount)
        let d = innerDimension, b = samples.count
        try requireGradientBlock(gradients, weights, p: d, b: b, op)
        if b == 0 { return }
        gatherColumns(trainingInputs, samples, into: &gradients)
        var predictions = [Double](repeating: 0, count: b)
        try BLAS.gemv(.transpose, gradients, y, &predictions)
        let inverseVariance = 1 / (noise * noise)
        gradients.storage.withUnsafeMutableBufferPointer { g in
            for (j, i) in samples.enumerated() {
                let coefficient = -(trainingTargets[i] - predictions[j]) * inverseVariance
                for k in (j * d)..<((j + 1) * d) { g[k] *= coefficient }
            }
        }
        for j in 0..<b { weights[j] = 1 }
    }

    /// `ℓᵢ(y) = (bᵢ − aᵢᵀy)² / (2s²)`.
    public func perSampleLosses(y: [Double], samples: [Int]) throws -> [Double] {
        try requireFiniteVector(y, innerDimension, "RidgeRegression.perSampleLosses", "y")
        try requireSamples(samples, trainingCount)
        var block = Matrix(rows: innerDimension, columns: samples.count)
        gatherColumns(trainingInputs, samples, into: &block)
        var predictions = [Double](repeating: 0, count: samples.count)
        try BLAS.gemv(.transpose, block, y, &predictions)
        let s2 = noise * noise
        return samples.indices.map { j in
            let r = trainingTargets[samples[j]] - predictions[j]
            return r * r / (2 * s2)
        }
    }

    /// `R = ½ Σ e^{xⱼ} yⱼ²`.
    public func regularizerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "RidgeRegression.regularizerValue")
        return PerFeatureL2.value(x: x, y: y)
    }

    /// `∇_y R = e^x ⊙ y`.
    public func regularizerGradient(x: [Double], y: [Double], into gradient: inout [Double]) throws {
        try check(x, y, "RidgeRegression.regularizerGradient")
        try requireCount(gradient, innerDimension, "RidgeRegression.regularizerGradient", "gradient")
        PerFeatureL2.gradient(x: x, y: y, into: &gradient)
    }

    /// `diag ∇²_yy R = e^x`.
    public func regularizerCurvature(x: [Double], y: [Double]) throws -> [Double] {
        try check(x, y, "RidgeRegression.regularizerCurvature")
        return PerFeatureL2.curvature(x: x)
    }

    /// `J u = e^x ⊙ y ⊙ u` (`∂/∂xⱼ` of `(∇_y g)ⱼ = … + e^{xⱼ} yⱼ`).
    public func crossProduct(x: [Double], y: [Double], u: [Double]) throws -> [Double] {
        try check(x, y, "RidgeRegression.crossProduct")
        try requireFiniteVector(u, innerDimension, "RidgeRegression.crossProduct", "u")
        return PerFeatureL2.crossProduct(x: x, y: y, u: u)
    }

    /// `g(x, y) = ‖b − Aᵀy‖² / (2 n s²) + R(x, y)`.
    public func innerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "RidgeRegression.innerValue")
        let loss = try Self.meanSquaredResidual(trainingInputs, trainingTargets, y) / (2 * noise * noise)
        return loss + (try regularizerValue(x: x, y: y))
    }

    /// `f = (1/2m) ‖A_valᵀ y − b_val‖²`.
    public func outerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "RidgeRegression.outerValue")
        return try Self.meanSquaredResidual(validationInputs, validationTargets, y) / 2
    }

    /// `∇_x f = 0`, `∇_y f = (1/m) A_val (A_valᵀ y − b_val)`.
    public func outerGradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        try check(x, y, "RidgeRegression.outerGradients")
        var residual = validationTargets
        try BLAS.gemv(.transpose, validationInputs, y, beta: -1, &residual)  // Aᵀy − b
        var gradient = [Double](repeating: 0, count: innerDimension)
        try BLAS.gemv(.none, alpha: 1 / Double(validationCount), validationInputs, residual, &gradient)
        return ([Double](repeating: 0, count: outerDimension), gradient)
    }

    /// `H v` with `H = (1/(|B| s²)) A_B A_Bᵀ + diag(e^x)` on the samples `B` (all n when nil,
    /// through the cached `A Aᵀ/(n s²)`).
    /// - Complexity: O(d²) full batch; O(d·|B|) on a minibatch.
    public func hessianVectorProduct(
        x: [Double], y: [Double], v: [Double], samples: [Int]?, into result: inout [Double]
    ) throws {
        let op = "RidgeRegression.hessianVectorProduct"
        try check(x, y, op)
        try requireFiniteVector(v, innerDimension, op, "v")
        try requireCount(result, innerDimension, op, "result")
        if let samples { try requireSamples(samples, trainingCount) }
        var product = [Double](repeating: 0, count: innerDimension)
        if let samples {
            if !samples.isEmpty {
                let scale = 1 / (Double(samples.count) * noise * noise)
                var projections = [Double](repeating: 0, count: min(sampleBlockSize, samples.count))
                try forEachSampleBlock(trainingInputs, samples: samples) { block, columns, _ in
                    if projections.count != columns.count { projections = [Double](repeating: 0, count: columns.count) }
                    try BLAS.gemv(.transpose, block, columns: columns, v, &projections)
                    try BLAS.gemv(.none, alpha: scale, block, columns: columns, projections, beta: 1, &product)
                }
            }
        } else {
            try BLAS.gemv(.none, dataHessian, v, &product)
        }
        PerFeatureL2.addCurvatureProduct(x: x, v: v, to: &product)
        result = product
    }

    /// The dense Hessian `A Aᵀ/(n s²) + diag(e^x)` (independent of y).
    public func hessian(x: [Double], y: [Double]) throws -> Matrix {
        try check(x, y, "RidgeRegression.hessian")
        var h = dataHessian
        PerFeatureL2.addCurvature(x: x, to: &h)
        return h
    }

    /// The inner solution `y*(x) = (A Aᵀ/(n s²) + diag(e^x))⁻¹ A b/(n s²)` by Cholesky.
    /// - Throws: ``BilevelError`` for a bad x (the Hessian is positive definite for finite x).
    /// - Complexity: d³/3 flops.
    public func solveInner(x: [Double]) throws -> [Double] {
        try requireFiniteVector(x, outerDimension, "RidgeRegression.solveInner", "x")
        var solution = scaledCrossMoment
        try factorHessian(x).solve(&solution)
        return solution
    }

    /// The exact hypergradient `∇Φ(x) = −e^x ⊙ y* ⊙ u` with `y* = y*(x)` and
    /// `u = H⁻¹ ∇_y f(x, y*)` (`∇_x f = 0`), by two Cholesky solves with one factorisation.
    /// - Complexity: d³/3 + O(d m) flops.
    public func exactHypergradient(x: [Double]) throws -> [Double] {
        try requireFiniteVector(x, outerDimension, "RidgeRegression.exactHypergradient", "x")
        let factor = try factorHessian(x)
        var yStar = scaledCrossMoment
        try factor.solve(&yStar)
        var u = try outerGradients(x: x, y: yStar).y
        try factor.solve(&u)
        return PerFeatureL2.crossProduct(x: x, y: yStar, u: u).map { -$0 }
    }

    /// The hyperobjective `Φ(x) = f(x, y*(x))`.
    public func hyperobjective(x: [Double]) throws -> Double {
        try outerValue(x: x, y: solveInner(x: x))
    }

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        var result = ["validation_loss": try outerValue(x: x, y: y)]
        if testInputs.columns > 0 {
            result["test_loss"] = try Self.meanSquaredResidual(testInputs, testTargets, y) / 2
        }
        if let truth = generatingParameters {
            let difference = zip(y, truth).map { $0 - $1 }
            result["parameter_error"] = BLAS.norm(difference) / max(BLAS.norm(truth), .leastNormalMagnitude)
        }
        return result
    }

    private func factorHessian(_ x: [Double]) throws -> CholeskyFactorization {
        var h = dataHessian
        PerFeatureL2.addCurvature(x: x, to: &h)
        do {
            return try CholeskyFactorization(h)
        } catch let error as LinearAlgebraError {
            throw BilevelError.linearAlgebra(error)
        }
    }

    /// `(1/count) ‖Aᵀy − b‖²`.
    private static func meanSquaredResidual(_ a: Matrix, _ b: [Double], _ y: [Double]) throws -> Double {
        if a.columns == 0 { return 0 }
        var residual = b
        try BLAS.gemv(.transpose, a, y, beta: -1, &residual)
        let norm = BLAS.norm(residual)
        return norm * norm / Double(a.columns)
    }
}
