import Foundation
import NHGDLinearAlgebra

/// Binary logistic regression with one L2 strength per feature (ALGORITHMS.md §7; the
/// "ijcnn1" benchmark of the bilevel literature). Runs on ``Dataset/breastCancer()`` (30
/// hyperparameters) and on MNIST pairs (``Dataset/binaryPair(positive:negative:)``, 784 or 785).
///
/// With inputs `aᵢ ∈ ℝ^d` (columns of `A`), labels `bᵢ ∈ {0, 1}`, `πᵢ = σ(aᵢᵀy)`, q = p = d:
///
/// ```
/// ℓᵢ(y) = log(1 + e^{aᵢᵀy}) − bᵢ aᵢᵀy,   ωᵢ = 1,   R(x, y) = ½ Σⱼ e^{xⱼ} yⱼ²
/// gᵢ = (πᵢ − bᵢ) aᵢ,   H = (1/n) Σ πᵢ(1 − πᵢ) aᵢaᵢᵀ + diag(e^x),   J u = e^x ⊙ y ⊙ u
/// f(x, y) = (1/m) Σ_val ℓᵢ(y)   (unregularised validation log-loss)
/// ```
///
/// Metrics: `validation_loss` (= f), `validation_accuracy`, and `test_loss`, `test_accuracy`
/// when a test set is given. A sample is predicted positive when `aᵢᵀy > 0`.
public struct LogisticRegression: DenseHessianProblem, PerSampleLossProblem {
    /// Training inputs, d × n.
    public let trainingInputs: Matrix
    /// Training labels in {0, 1} (as doubles, length n).
    public let trainingLabels: [Double]
    /// Validation inputs, d × m.
    public let validationInputs: Matrix
    /// Validation labels in {0, 1}.
    public let validationLabels: [Double]
    /// Test inputs, d × m_test (zero columns when there is no test set).
    public let testInputs: Matrix
    /// Test labels in {0, 1}.
    public let testLabels: [Double]

    public var innerDimension: Int { trainingInputs.rows }
    public var outerDimension: Int { trainingInputs.rows }
    public var trainingCount: Int { trainingInputs.columns }
    public var validationCount: Int { validationInputs.columns }

    /// A problem on binary data sets (two classes, labels 0 and 1, equal feature counts).
    /// - Throws: ``BilevelError`` when a set has other than two classes, the feature counts
    ///   differ, or the training or validation set is empty.
    public init(training: Dataset, validation: Dataset, test: Dataset? = nil) throws {
        let d = training.featureCount
        for (set, role) in [(training, "training"), (validation, "validation")] + (test.map { [($0, "test")] } ?? []) {
            guard set.classCount == 2 else {
                throw BilevelError.invalidHyperparameter(
                    name: "\(role) classes", value: "\(set.classCount)", requirement: "exactly 2 (labels 0 and 1)")
            }
            guard set.featureCount == d else {
                throw BilevelError.dimensionMismatch(
                    operation: "LogisticRegression.init", expected: "\(d) features", actual: "\(set.featureCount) in \(role)")
            }
        }
        guard d >= 1, training.sampleCount >= 1, validation.sampleCount >= 1 else {
            throw BilevelError.invalidHyperparameter(
                name: "data", value: "d = \(d), n = \(training.sampleCount), m = \(validation.sampleCount)",
                requirement: "at least one feature, training and validation sample")
        }
        trainingInputs = training.features
        trainingLabels = training.labels.map(Double.init)
        validationInputs = validation.features
        validationLabels = validation.labels.map(Double.init)
        testInputs = test?.features ?? Matrix(rows: d, columns: 0)
        testLabels = test?.labels.map(Double.init) ?? []
    }

    /// The breast-cancer benchmark: ``Dataset/breastCancer()`` split (stratified, seeded),
    /// standardised on the training part, with a bias feature (d = 31: 30 features + bias).
    /// - Throws: data-loading errors, or ``BilevelError`` for sizes beyond the 569 samples.
    public static func breastCancer(
        trainCount: Int = 300, validationCount: Int = 134, testCount: Int = 135,
        using rng: inout some RandomNumberGenerator
    ) throws -> LogisticRegression {
        try standardized(Dataset.breastCancer(), trainCount: trainCount, validationCount: validationCount,
                         testCount: testCount, using: &rng)
    }

    /// An MNIST pair ("3 versus 8" by default: label 1 for `positive`) from ``Dataset/mnist5k()``,
    /// pixels scaled to [0, 1], with a bias feature (d = 785), split stratified and seeded
    /// (1,000 samples: 500 per digit).
    public static func mnistPair(
        positive: Int = 8, negative: Int = 3, trainCount: Int = 500, validationCount: Int = 250, testCount: Int = 250,
        using rng: inout some RandomNumberGenerator
    ) throws -> LogisticRegression {
        let pair = try Dataset.mnist5k().binaryPair(positive: positive, negative: negative).scaled(by: 1.0 / 255)
            .withBiasFeature()
        let parts = try pair.split(trainCount: trainCount, validationCount: validationCount, testCount: testCount,
                                   using: &rng)
        return try LogisticRegression(training: parts.training, validation: parts.validation,
                                      test: testCount > 0 ? parts.test : nil)
    }

    /// Splits a binary data set (stratified, seeded), fits a ``Standardization`` on the training
    /// part, applies it to all parts and appends a bias feature.
    public static func standardized(
        _ dataset: Dataset, trainCount: Int, validationCount: Int, testCount: Int,
        using rng: inout some RandomNumberGenerator
    ) throws -> LogisticRegression {
        let parts = try dataset.split(trainCount: trainCount, validationCount: validationCount, testCount: testCount,
                                      using: &rng)
        let scaler = try Standardization(fittedTo: parts.training)
        return try LogisticRegression(
            training: scaler.apply(to: parts.training).withBiasFeature(),
            validation: scaler.apply(to: parts.validation).withBiasFeature(),
            test: testCount > 0 ? scaler.apply(to: parts.test).withBiasFeature() : nil)
    }

    public func initialOuter() -> [Double] { [Double](repeating: 0, count: outerDimension) }
    public func initialInner() -> [Double] { [Double](repeating: 0, count: innerDimension) }

    /// `gᵢ = (σ(aᵢᵀy) − bᵢ) aᵢ` into the columns of `gradients`; all weights 1.
    /// - Complexity: O(d · samples.count): a gather, one `gemv`, one scaling pass.
    public func perSampleGradients(
        x: [Double], y: [Double], samples: [Int], into gradients: inout Matrix, weights: inout [Double]
    ) throws {
        let op = "LogisticRegression.perSampleGradients"
        try check(x, y, op)
        try requireSamples(samples, trainingCount)
        let d = innerDimension, b = samples.count
        try requireGradientBlock(gradients, weights, p: d, b: b, op)
        if b == 0 { return }
        gatherColumns(trainingInputs, samples, into: &gradients)
        var logits = [Double](repeating: 0, count: b)
        try BLAS.gemv(.transpose, gradients, y, &logits)
        gradients.storage.withUnsafeMutableBufferPointer { g in
            for (j, i) in samples.enumerated() {
                let coefficient = logistic(logits[j]) - trainingLabels[i]
                for k in (j * d)..<((j + 1) * d) { g[k] *= coefficient }
            }
        }
        for j in 0..<b { weights[j] = 1 }
    }

    /// `ℓᵢ(y) = log(1 + e^{zᵢ}) − bᵢ zᵢ`, `zᵢ = aᵢᵀy`.
    public func perSampleLosses(y: [Double], samples: [Int]) throws -> [Double] {
        try requireFiniteVector(y, innerDimension, "LogisticRegression.perSampleLosses", "y")
        try requireSamples(samples, trainingCount)
        var block = Matrix(rows: innerDimension, columns: samples.count)
        gatherColumns(trainingInputs, samples, into: &block)
        var logits = [Double](repeating: 0, count: samples.count)
        try BLAS.gemv(.transpose, block, y, &logits)
        return samples.indices.map { j in softplus(logits[j]) - trainingLabels[samples[j]] * logits[j] }
    }

    /// `R = ½ Σ e^{xⱼ} yⱼ²`.
    public func regularizerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "LogisticRegression.regularizerValue")
        return PerFeatureL2.value(x: x, y: y)
    }

    /// `∇_y R = e^x ⊙ y`.
    public func regularizerGradient(x: [Double], y: [Double], into gradient: inout [Double]) throws {
        try check(x, y, "LogisticRegression.regularizerGradient")
        try requireCount(gradient, innerDimension, "LogisticRegression.regularizerGradient", "gradient")
        PerFeatureL2.gradient(x: x, y: y, into: &gradient)
    }

    /// `diag ∇²_yy R = e^x`.
    public func regularizerCurvature(x: [Double], y: [Double]) throws -> [Double] {
        try check(x, y, "LogisticRegression.regularizerCurvature")
        return PerFeatureL2.curvature(x: x)
    }

    /// `J u = e^x ⊙ y ⊙ u`.
    public func crossProduct(x: [Double], y: [Double], u: [Double]) throws -> [Double] {
        try check(x, y, "LogisticRegression.crossProduct")
        try requireFiniteVector(u, innerDimension, "LogisticRegression.crossProduct", "u")
        return PerFeatureL2.crossProduct(x: x, y: y, u: u)
    }

    /// `g = (1/n) Σ ℓᵢ(y) + R(x, y)`.
    public func innerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "LogisticRegression.innerValue")
        return try Self.meanLogLoss(trainingInputs, trainingLabels, y) + regularizerValue(x: x, y: y)
    }

    /// `f = (1/m) Σ_val ℓᵢ(y)`.
    public func outerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "LogisticRegression.outerValue")
        return try Self.meanLogLoss(validationInputs, validationLabels, y)
    }

    /// `∇_x f = 0`, `∇_y f = (1/m) A_val (π_val − b_val)`.
    public func outerGradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        try check(x, y, "LogisticRegression.outerGradients")
        var residual = [Double](repeating: 0, count: validationCount)
        try BLAS.gemv(.transpose, validationInputs, y, &residual)
        for i in 0..<validationCount { residual[i] = logistic(residual[i]) - validationLabels[i] }
        var gradient = [Double](repeating: 0, count: innerDimension)
        try BLAS.gemv(.none, alpha: 1 / Double(validationCount), validationInputs, residual, &gradient)
        return ([Double](repeating: 0, count: outerDimension), gradient)
    }

    /// `H v = (1/|B|) Σ_{i∈B} πᵢ(1 − πᵢ)(aᵢᵀv) aᵢ + e^x ⊙ v` (all n samples when `samples` is nil).
    /// - Complexity: O(d·|B|): three `gemv` passes per block of 256 samples.
    public func hessianVectorProduct(
        x: [Double], y: [Double], v: [Double], samples: [Int]?, into result: inout [Double]
    ) throws {
        let op = "LogisticRegression.hessianVectorProduct"
        try check(x, y, op)
        try requireFiniteVector(v, innerDimension, op, "v")
        try requireCount(result, innerDimension, op, "result")
        if let samples { try requireSamples(samples, trainingCount) }
        let count = samples?.count ?? trainingCount
        var product = [Double](repeating: 0, count: innerDimension)
        if count > 0 {
            var logits = [Double](repeating: 0, count: min(sampleBlockSize, count))
            var projections = logits
            try forEachSampleBlock(trainingInputs, samples: samples) { block, columns, _ in
                if logits.count != columns.count {
                    logits = [Double](repeating: 0, count: columns.count)
                    projections = logits
                }
                try BLAS.gemv(.transpose, block, columns: columns, y, &logits)
                try BLAS.gemv(.transpose, block, columns: columns, v, &projections)
                for j in 0..<columns.count {
                    let pi = logistic(logits[j])
                    projections[j] *= pi * (1 - pi)
                }
                try BLAS.gemv(.none, alpha: 1 / Double(count), block, columns: columns, projections, beta: 1, &product)
            }
        }
        PerFeatureL2.addCurvatureProduct(x: x, v: v, to: &product)
        result = product
    }

    /// The dense Hessian `(1/n) A diag(π(1−π)) Aᵀ + diag(e^x)` (one `syrk` on the scaled inputs).
    /// - Complexity: O(n d²).
    public func hessian(x: [Double], y: [Double]) throws -> Matrix {
        try check(x, y, "LogisticRegression.hessian")
        let d = innerDimension, n = trainingCount
        var logits = [Double](repeating: 0, count: n)
        try BLAS.gemv(.transpose, trainingInputs, y, &logits)
        var scaled = trainingInputs
        scaled.storage.withUnsafeMutableBufferPointer { a in
            for i in 0..<n {
                let pi = logistic(logits[i])
                let root = (pi * (1 - pi)).squareRoot()
                for k in (i * d)..<((i + 1) * d) { a[k] *= root }
            }
        }
        var h = Matrix(rows: d, columns: d)
        try BLAS.syrk(.none, alpha: 1 / Double(n), scaled, &h)
        PerFeatureL2.addCurvature(x: x, to: &h)
        return h
    }

    /// The inner solution `y*(x)` by damped Newton (dense Hessian, Cholesky, backtracking on g)
    /// from `start` (zeros by default), stopped when `‖∇_y g‖ ≤ tolerance`. For small d.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)`` if it does not
    ///   converge within `maxIterations`.
    /// - Complexity: O(n d² + d³) per iteration; quadratic convergence near y*.
    public func innerSolution(x: [Double], start: [Double]? = nil, tolerance: Double = 1e-12,
                              maxIterations: Int = 100) throws -> [Double] {
        try newtonInnerSolve(self, x: x, start: start ?? initialInner(), tolerance: tolerance,
                             maxIterations: maxIterations)
    }

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        try check(x, y, "LogisticRegression.metrics")
        var result = [
            "validation_loss": try Self.meanLogLoss(validationInputs, validationLabels, y),
            "validation_accuracy": try Self.accuracy(validationInputs, validationLabels, y),
        ]
        if testInputs.columns > 0 {
            result["test_loss"] = try Self.meanLogLoss(testInputs, testLabels, y)
            result["test_accuracy"] = try Self.accuracy(testInputs, testLabels, y)
        }
        return result
    }

    private static func meanLogLoss(_ a: Matrix, _ b: [Double], _ y: [Double]) throws -> Double {
        if a.columns == 0 { return 0 }
        var z = [Double](repeating: 0, count: a.columns)
        try BLAS.gemv(.transpose, a, y, &z)
        var total = 0.0
        for i in 0..<a.columns { total += softplus(z[i]) - b[i] * z[i] }
        return total / Double(a.columns)
    }

    private static func accuracy(_ a: Matrix, _ b: [Double], _ y: [Double]) throws -> Double {
        if a.columns == 0 { return 0 }
        var z = [Double](repeating: 0, count: a.columns)
        try BLAS.gemv(.transpose, a, y, &z)
        var correct = 0
        for i in 0..<a.columns where (z[i] > 0 ? 1.0 : 0.0) == b[i] { correct += 1 }
        return Double(correct) / Double(a.columns)
    }
}

/// Damped Newton on the full-batch inner problem of a problem with a dense Hessian: the
/// deterministic reference solver for tests (small p). Armijo backtracking on `g` keeps every
/// step a descent step, so it converges globally on the strongly convex inner problems here;
/// it throws rather than return a point whose gradient norm exceeds `tolerance`.
func newtonInnerSolve<P: DenseHessianProblem>(
    _ problem: P, x: [Double], start: [Double], tolerance: Double, maxIterations: Int
) throws -> [Double] {
    try requireFiniteVector(x, problem.outerDimension, "innerSolution", "x")
    try requireFiniteVector(start, problem.innerDimension, "innerSolution", "start")
    var y = start
    var value = try problem.innerValue(x: x, y: y)
    for _ in 0..<maxIterations {
        let gradient = try problem.innerGradient(x: x, y: y)
        if BLAS.norm(gradient) <= tolerance { return y }
        var step = gradient
        do {
            try CholeskyFactorization(problem.hessian(x: x, y: y)).solve(&step)
        } catch let error as LinearAlgebraError {
            throw BilevelError.linearAlgebra(error)
        }
        let slope = -BLAS.dot(gradient, step)
        let gradientNorm = BLAS.norm(gradient)
        var t = 1.0
        var accepted = false
        var candidate = y
        var candidateValue = value
        while t >= 1e-10 {
            candidate = y
            BLAS.axpy(-t, step, &candidate)
            candidateValue = try problem.innerValue(x: x, y: candidate)
            if candidateValue <= value + 1e-4 * t * slope {
                accepted = true
                break
            }
            // Near y* the decrease ‖∇g‖²/2 falls below the rounding of g itself, so Armijo
            // cannot be verified; the full Newton step is then accepted when it shrinks the
            // gradient (the quadratic-convergence regime).
            if t == 1, BLAS.norm(try problem.innerGradient(x: x, y: candidate)) <= gradientNorm / 2 {
                accepted = true
                break
            }
            t /= 2
        }
        if !accepted { break }
        y = candidate
        value = candidateValue
    }
    let finalNorm = BLAS.norm(try problem.innerGradient(x: x, y: y))
    if finalNorm <= tolerance { return y }
    throw BilevelError.invalidHyperparameter(
        name: "innerSolution tolerance", value: "\(tolerance)",
        requirement: "not reached by damped Newton within \(maxIterations) iterations (gradient norm \(finalNorm))")
}
