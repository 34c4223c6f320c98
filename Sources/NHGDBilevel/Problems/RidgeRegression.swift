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
/// f(x, y) = (1/2m) ‖A_valᵀ y − b_val‖²
/// H = A Aᵀ/(n s²) + diag(e^x),   y*(x) = H⁻¹ A b/(n s²),   ∇Φ(x) = −e^x ⊙ y* ⊙ H⁻¹∇_y f
/// ```
///
/// Metrics: `validation_loss` (= f), `test_loss` (same loss on the test set, when there is
/// one), `parameter_error` (`‖y − y_true‖/‖y_true‖`, for ``synthetic(n:m:d:noise:testCount:using:)``
/// problems, whose generating parameters are known).
public struct RidgeRegression: DenseHessianProblem {
    /// `(bᵢ − aᵢᵀy)² / (2s²)` on the training set.
    public let data: LinearModel<SquaredError>
    /// `(1/2m) ‖A_valᵀ y − b_val‖²`.
    public let outer: ValidationLoss<LinearModel<SquaredError>>
    /// The same loss as ``outer`` on the test set, if any.
    public let test: LinearModel<SquaredError>?
    /// `½ Σⱼ e^{xⱼ} yⱼ²`.
    public var regularizer: PerFeatureL2 { PerFeatureL2() }
    /// The parameters that generated the data, when known (synthetic problems).
    public let generatingParameters: [Double]?
    /// `A Aᵀ / (n s²)` (d × d), cached so the closed forms cost O(d³) whatever n is.
    public let dataHessian: Matrix
    /// `A b / (n s²)` (length d).
    let scaledCrossMoment: [Double]

    public var outerDimension: Int { data.parameterCount }
    /// The noise scale s of the likelihood.
    public var noise: Double { data.loss.noise }

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
        guard noise > 0, noise.isFinite else {
            throw BilevelError.invalidHyperparameter(name: "noise", value: "\(noise)", requirement: "positive and finite")
        }
        try requireSameFeatures(d, [("validationInputs", validationInputs), ("testInputs", testInputs)],
                                "RidgeRegression.init")
        data = try LinearModel(inputs: trainingInputs, targets: trainingTargets, loss: SquaredError(noise: noise))
        outer = ValidationLoss(try LinearModel(inputs: validationInputs, targets: validationTargets, loss: SquaredError()))
        test = try testInputs.map { try LinearModel(inputs: $0, targets: testTargets, loss: SquaredError()) }
        try requireNonEmpty(features: d, training: data.sampleCount, validation: outer.data.sampleCount)
        if let g = generatingParameters {
            try requireCount(g, d, "RidgeRegression.init", "generatingParameters")
            try requireAllFinite(g, "RidgeRegression.init", "generatingParameters")
        }
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

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        var result = ["validation_loss": try outer.value(x: x, y: y)]
        if let test, test.sampleCount > 0 { result["test_loss"] = try test.meanLoss(at: y) }
        if let truth = generatingParameters {
            let difference = zip(y, truth).map { $0 - $1 }
            result["parameter_error"] = BLAS.norm(difference) / max(BLAS.norm(truth), .leastNormalMagnitude)
        }
        return result
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
        return try crossProduct(x: x, y: yStar, u: u).map { -$0 }
    }

    /// The hyperobjective `Φ(x) = f(x, y*(x))`.
    public func hyperobjective(x: [Double]) throws -> Double {
        try outerValue(x: x, y: solveInner(x: x))
    }

    private func factorHessian(_ x: [Double]) throws -> CholeskyFactorization {
        var h = dataHessian
        for j in 0..<x.count { h[j, j] += exp(x[j]) }
        do {
            return try CholeskyFactorization(h)
        } catch let error as LinearAlgebraError {
            throw BilevelError.linearAlgebra(error)
        }
    }
}
