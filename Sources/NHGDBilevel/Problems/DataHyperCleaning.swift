import Foundation
import NHGDLinearAlgebra

/// Data hyper-cleaning (ALGORITHMS.md §7): learn one weight `σ(xᵢ)` per training sample so
/// that softmax regression trained on the weighted, partly mislabelled training set does well
/// on a clean validation set.
///
/// With inputs `aᵢ ∈ ℝ^d` (columns of `A`, a bias feature included if wanted), labels
/// `bᵢ ∈ 0..<K`, weights `Y ∈ ℝ^{d×K}` stored column-major as `y = vec(Y)` (p = d·K, entry
/// `Y[j, k] = y[j + k·d]`), one hyperparameter per training sample (q = n):
///
/// ```
/// πᵢ = softmax(Yᵀaᵢ),   rᵢ = πᵢ − e_{bᵢ},   CEᵢ(Y) = −log πᵢ[bᵢ]
/// g(x, Y) = (1/n) Σᵢ σ(xᵢ) CEᵢ(Y) + c ‖Y‖²_F        (ωᵢ = σ(xᵢ), R = c‖Y‖², ∇²R = 2c I)
/// gᵢ = vec(aᵢ rᵢᵀ) = rᵢ ⊗ aᵢ,     Hᵢ = (diag πᵢ − πᵢπᵢᵀ) ⊗ aᵢaᵢᵀ
/// (J u)ᵢ = (1/n) σ'(xᵢ) gᵢᵀu = (1/n) σ'(xᵢ) (Uᵀaᵢ)ᵀ rᵢ
/// f(x, Y) = (1/m) Σ_val CEᵢ(Y)    (clean validation cross-entropy; ∇ₓf = 0)
/// ```
///
/// Every oracle runs on blocks of samples through BLAS: logits `Z = Yᵀ A_B` and `S = Vᵀ A_B`
/// by `gemm`, data-Hessian products `A_B Tᵀ` by `gemm`; a per-sample gradient `vec(aᵢ rᵢᵀ)`
/// is one rank-one `gemm` into its column (read as a d×K block).
///
/// Metrics: `validation_loss` (= f), `validation_accuracy`, `test_loss` and `test_accuracy`
/// (with a test set), and, when the corruption record is known and has both clean and
/// corrupted samples, `auroc` (of the score `1 − σ(xᵢ)` for "label was changed"),
/// `mean_weight_clean` and `mean_weight_corrupted` (mean `σ(xᵢ)` over the two groups).
public struct DataHyperCleaning: DenseHessianProblem, PerSampleLossProblem {
    /// Training inputs, d × n.
    public let trainingInputs: Matrix
    /// Training labels as given to the inner problem (possibly corrupted), in 0..<K.
    public let trainingLabels: [Int]
    /// Validation inputs, d × m (clean labels).
    public let validationInputs: Matrix
    /// Validation labels.
    public let validationLabels: [Int]
    /// Test inputs, d × m_test (zero columns when there is none).
    public let testInputs: Matrix
    /// Test labels.
    public let testLabels: [Int]
    /// K, the number of classes.
    public let classCount: Int
    /// c, the fixed L2 coefficient of `R = c‖Y‖²`.
    public let l2: Double
    /// Which training labels were corrupted (for the AUROC metric), when known.
    public let corruption: LabelCorruption?
    /// The largest dense Hessian ``hessian(x:y:)`` will form, in bytes (1 GiB by default).
    public var denseHessianByteLimit = 1 << 30

    /// d, the number of features.
    public var featureCount: Int { trainingInputs.rows }
    public var innerDimension: Int { trainingInputs.rows * classCount }
    public var outerDimension: Int { trainingInputs.columns }
    public var trainingCount: Int { trainingInputs.columns }
    public var validationCount: Int { validationInputs.columns }

    /// A hyper-cleaning problem on prepared data sets (scaled, with a bias feature if wanted).
    /// - Parameters:
    ///   - training: The (corrupted) training set.
    ///   - corruption: Its corruption record, for the AUROC metric (length n if given).
    ///   - validation: The clean validation set.
    ///   - test: An optional test set.
    ///   - l2: `c ≥ 0`; the inner problem is strongly convex (and y* unique) only for c > 0.
    /// - Throws: ``BilevelError`` for mismatched feature or class counts, empty sets, a bad
    ///   `l2`, or a corruption record of the wrong length.
    public init(training: Dataset, corruption: LabelCorruption? = nil, validation: Dataset, test: Dataset? = nil,
                l2: Double) throws {
        try requireHyperCleaningData(training: training, validation: validation, test: test, "DataHyperCleaning.init")
        try requireHyperCleaningSettings(l2: l2, corruption: corruption, trainingCount: training.sampleCount,
                                         "DataHyperCleaning.init")
        let d = training.featureCount, k = training.classCount
        trainingInputs = training.features
        trainingLabels = training.labels
        validationInputs = validation.features
        validationLabels = validation.labels
        testInputs = test?.features ?? Matrix(rows: d, columns: 0)
        testLabels = test?.labels ?? []
        classCount = k
        self.l2 = l2
        self.corruption = corruption
    }

    /// The standard MNIST experiment: MNIST-5k pixels scaled to [0, 1] with a bias feature
    /// (d = 785, K = 10, p = 7,850), a stratified seeded split, and a fraction of the training
    /// labels replaced by uniformly random ones.
    /// - Throws: data-loading errors, or ``BilevelError`` for sizes beyond the 5,000 samples.
    public static func mnist(
        trainCount: Int = 2000, validationCount: Int = 1000, testCount: Int = 2000,
        corruptionFraction: Double = 0.5, l2: Double = 1e-3, bias: Bool = true,
        using rng: inout some RandomNumberGenerator
    ) throws -> DataHyperCleaning {
        var data = try Dataset.mnist5k().scaled(by: 1.0 / 255)
        if bias { data = data.withBiasFeature() }
        return try make(from: data, trainCount: trainCount, validationCount: validationCount, testCount: testCount,
                        corruptionFraction: corruptionFraction, l2: l2, using: &rng)
    }

    /// Splits `dataset` (stratified, seeded), corrupts the training labels and builds the problem.
    public static func make(
        from dataset: Dataset, trainCount: Int, validationCount: Int, testCount: Int,
        corruptionFraction: Double, l2: Double, using rng: inout some RandomNumberGenerator
    ) throws -> DataHyperCleaning {
        let parts = try dataset.split(trainCount: trainCount, validationCount: validationCount,
                                      testCount: testCount, stratified: true, using: &rng)
        let (corrupted, record) = try parts.training.corruptingLabels(fraction: corruptionFraction, using: &rng)
        return try DataHyperCleaning(training: corrupted, corruption: record, validation: parts.validation,
                                     test: testCount > 0 ? parts.test : nil, l2: l2)
    }

    public func initialOuter() -> [Double] { [Double](repeating: 0, count: outerDimension) }
    public func initialInner() -> [Double] { [Double](repeating: 0, count: innerDimension) }

    private func weightMatrix(_ y: [Double]) -> Matrix {
        // Shares `y`'s buffer (copy-on-write): no copy.
        try! Matrix(rows: featureCount, columns: classCount, storage: y)
    }

    /// `Z[:, cols] = Yᵀ block[:, columns]` into the leading `columns.count` columns of `z`.
    private func logits(_ weights: Matrix, _ block: Matrix, _ columns: Range<Int>, into z: inout Matrix) throws {
        try BLAS.gemm(.transpose, .none, weights, columns: nil, block, columns: columns, beta: 0, &z, columns: 0..<columns.count)
    }

    /// `gᵢ = vec(aᵢ rᵢᵀ)` into the columns of `gradients` (p × b), weights `σ(xᵢ)`.
    /// - Complexity: one `gemm` for the logits (2dKb flops) and one pass writing the p·b
    ///   outputs: memory-bound on the output.
    public func perSampleGradients(
        x: [Double], y: [Double], samples: [Int], into gradients: inout Matrix, weights: inout [Double]
    ) throws {
        let op = "DataHyperCleaning.perSampleGradients"
        try check(x, y, op)
        try requireSamples(samples, trainingCount)
        let d = featureCount, k = classCount, b = samples.count
        try requireGradientBlock(gradients, weights, p: innerDimension, b: b, op)
        if b == 0 { return }
        let weightsY = weightMatrix(y)
        var residuals = Matrix(rows: k, columns: b)
        var offset = 0
        try forEachSampleBlock(trainingInputs, samples: samples) { block, columns, indices in
            var z = Matrix(rows: k, columns: columns.count)
            try logits(weightsY, block, columns, into: &z)
            _ = softmaxCrossEntropyColumns(&z, count: columns.count, labels: indices.lazy.map { trainingLabels[$0] })
            for (j, i) in indices.enumerated() { z[trainingLabels[i], j] -= 1 }
            residuals.storage.withUnsafeMutableBufferPointer { r in
                z.storage.withUnsafeBufferPointer { (r.baseAddress! + offset * k).update(from: $0.baseAddress!, count: $0.count) }
            }
            offset += columns.count
        }
        // Column j of the output, read as d × K, is aᵢ rᵢᵀ: K scaled copies of aᵢ, written in one
        // pass (a BLAS rank-one update would first have to zero the column).
        gradients.storage.withUnsafeMutableBufferPointer { g in
            trainingInputs.storage.withUnsafeBufferPointer { a in
                residuals.storage.withUnsafeBufferPointer { r in
                    for (j, i) in samples.enumerated() {
                        let source = a.baseAddress! + i * d
                        for c in 0..<k {
                            let target = g.baseAddress! + (j * k + c) * d
                            let scale = r[j * k + c]
                            for t in 0..<d { target[t] = scale * source[t] }
                        }
                    }
                }
            }
        }
        for (j, i) in samples.enumerated() { weights[j] = logistic(x[i]) }
    }

    /// `CEᵢ(Y) = log Σ_c e^{(Yᵀaᵢ)_c} − (Yᵀaᵢ)_{bᵢ}`.
    public func perSampleLosses(y: [Double], samples: [Int]) throws -> [Double] {
        try requireFiniteVector(y, innerDimension, "DataHyperCleaning.perSampleLosses", "y")
        try requireSamples(samples, trainingCount)
        var losses = [Double]()
        losses.reserveCapacity(samples.count)
        let weightsY = weightMatrix(y)
        try forEachSampleBlock(trainingInputs, samples: samples) { block, columns, indices in
            var z = Matrix(rows: classCount, columns: columns.count)
            try logits(weightsY, block, columns, into: &z)
            losses += softmaxCrossEntropyColumns(&z, count: columns.count, labels: indices.lazy.map { trainingLabels[$0] })
        }
        return losses
    }

    /// `R = c ‖Y‖²`.
    public func regularizerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "DataHyperCleaning.regularizerValue")
        let norm = BLAS.norm(y)
        return l2 * norm * norm
    }

    /// `∇_y R = 2c y`.
    public func regularizerGradient(x: [Double], y: [Double], into gradient: inout [Double]) throws {
        try check(x, y, "DataHyperCleaning.regularizerGradient")
        try requireCount(gradient, innerDimension, "DataHyperCleaning.regularizerGradient", "gradient")
        for j in 0..<innerDimension { gradient[j] = 2 * l2 * y[j] }
    }

    /// `diag ∇²_yy R = 2c`.
    public func regularizerCurvature(x: [Double], y: [Double]) throws -> [Double] {
        try check(x, y, "DataHyperCleaning.regularizerCurvature")
        return [Double](repeating: 2 * l2, count: innerDimension)
    }

    /// `(J u)ᵢ = (1/n) σ'(xᵢ) (Uᵀaᵢ)ᵀ rᵢ` for all n samples, blockwise: `Z = YᵀA_B`, `W = UᵀA_B`
    /// by `gemm`, then one K-term dot product per sample.
    /// - Complexity: 4dKn flops.
    public func crossProduct(x: [Double], y: [Double], u: [Double]) throws -> [Double] {
        try check(x, y, "DataHyperCleaning.crossProduct")
        try requireFiniteVector(u, innerDimension, "DataHyperCleaning.crossProduct", "u")
        let k = classCount, n = trainingCount
        let weightsY = weightMatrix(y), direction = weightMatrix(u)
        var result = [Double](repeating: 0, count: n)
        var z = Matrix(rows: k, columns: min(sampleBlockSize, n))
        var w = z
        try forEachSampleBlock(trainingInputs, samples: nil) { block, columns, indices in
            try logits(weightsY, block, columns, into: &z)
            _ = softmaxCrossEntropyColumns(&z, count: columns.count, labels: indices.lazy.map { trainingLabels[$0] })
            try logits(direction, block, columns, into: &w)
            for (j, i) in indices.enumerated() {
                var inner = -w[trainingLabels[i], j]
                for c in 0..<k { inner += w[c, j] * z[c, j] }
                let s = logistic(x[i])
                result[i] = s * (1 - s) * inner / Double(n)
            }
        }
        return result
    }

    /// `∇ᵧg = (1/n) vec(A Sᵀ) + 2c y` with `sᵢ = σ(xᵢ) rᵢ`: one `gemm` per block of samples,
    /// instead of the p×b per-sample blocks of the generic implementation.
    /// - Complexity: 4dKn flops.
    public func innerGradient(x: [Double], y: [Double]) throws -> [Double] {
        try check(x, y, "DataHyperCleaning.innerGradient")
        let k = classCount, n = trainingCount
        let weightsY = weightMatrix(y)
        var gradient = Matrix(rows: featureCount, columns: k)
        var z = Matrix(rows: k, columns: min(sampleBlockSize, n))
        try forEachSampleBlock(trainingInputs, samples: nil) { block, columns, indices in
            try logits(weightsY, block, columns, into: &z)
            _ = softmaxCrossEntropyColumns(&z, count: columns.count, labels: indices.lazy.map { trainingLabels[$0] })
            for (j, i) in indices.enumerated() {
                z[trainingLabels[i], j] -= 1
                let weight = logistic(x[i])
                for c in 0..<k { z[c, j] *= weight }
            }
            try BLAS.gemm(.none, .transpose, alpha: 1 / Double(n), block, columns: columns, z,
                          columns: 0..<columns.count, beta: 1, &gradient)
        }
        var result = gradient.storage
        BLAS.axpy(2 * l2, y, &result)
        return result
    }

    /// `g = (1/n) Σ σ(xᵢ) CEᵢ + c‖Y‖²`.
    public func innerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "DataHyperCleaning.innerValue")
        let losses = try perSampleLosses(y: y, samples: Array(0..<trainingCount))
        return sampleWeightedMeanLoss(x: x, losses: losses) + (try regularizerValue(x: x, y: y))
    }

    /// `f = (1/m) Σ_val CEᵢ`.
    public func outerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "DataHyperCleaning.outerValue")
        return try evaluate(validationInputs, validationLabels, y).loss
    }

    /// `∇ₓf = 0`, `∇_y f = (1/m) vec(A_val R_valᵀ)` (one `gemm` per block).
    public func outerGradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        try check(x, y, "DataHyperCleaning.outerGradients")
        let k = classCount, m = validationCount
        let weightsY = weightMatrix(y)
        var gradient = Matrix(rows: featureCount, columns: k)
        var z = Matrix(rows: k, columns: min(sampleBlockSize, m))
        try forEachSampleBlock(validationInputs, samples: nil) { block, columns, indices in
            try logits(weightsY, block, columns, into: &z)
            _ = softmaxCrossEntropyColumns(&z, count: columns.count, labels: indices.lazy.map { validationLabels[$0] })
            for (j, i) in indices.enumerated() { z[validationLabels[i], j] -= 1 }
            try BLAS.gemm(.none, .transpose, alpha: 1 / Double(m), block, columns: columns, z,
                          columns: 0..<columns.count, beta: 1, &gradient)
        }
        return ([Double](repeating: 0, count: outerDimension), gradient.storage)
    }

    /// `H v = (1/|B|) Σ_{i∈B} σ(xᵢ) vec(aᵢ tᵢᵀ) + 2c v` with `sᵢ = Vᵀaᵢ`,
    /// `tᵢ = πᵢ ⊙ sᵢ − πᵢ (πᵢᵀsᵢ)` (all n samples when `samples` is nil).
    /// - Complexity: 6dK|B| flops in three `gemm`s per block.
    public func hessianVectorProduct(
        x: [Double], y: [Double], v: [Double], samples: [Int]?, into result: inout [Double]
    ) throws {
        let op = "DataHyperCleaning.hessianVectorProduct"
        try check(x, y, op)
        try requireFiniteVector(v, innerDimension, op, "v")
        try requireCount(result, innerDimension, op, "result")
        if let samples { try requireSamples(samples, trainingCount) }
        let k = classCount
        let count = samples?.count ?? trainingCount
        let weightsY = weightMatrix(y), direction = weightMatrix(v)
        var product = Matrix(rows: featureCount, columns: k)
        if count > 0 {
            var z = Matrix(rows: k, columns: min(sampleBlockSize, count))
            var s = z
            try forEachSampleBlock(trainingInputs, samples: samples) { block, columns, indices in
                try logits(weightsY, block, columns, into: &z)
                _ = softmaxCrossEntropyColumns(&z, count: columns.count, labels: indices.lazy.map { trainingLabels[$0] })
                try logits(direction, block, columns, into: &s)
                for (j, i) in indices.enumerated() {
                    var mean = 0.0
                    for c in 0..<k { mean += z[c, j] * s[c, j] }
                    let weight = logistic(x[i])
                    for c in 0..<k { s[c, j] = weight * z[c, j] * (s[c, j] - mean) }
                }
                try BLAS.gemm(.none, .transpose, alpha: 1 / Double(count), block, columns: columns, s,
                              columns: 0..<columns.count, beta: 1, &product)
            }
        }
        var out = product.storage
        BLAS.axpy(2 * l2, v, &out)
        result = out
    }

    /// The dense p × p Hessian: block `(k, l)` (rows `k·d..<(k+1)·d`, columns `l·d..<(l+1)·d`)
    /// is `(1/n) A diag(σ(xᵢ)(δ_kl πᵢₖ − πᵢₖπᵢₗ)) Aᵀ`, plus `2c I`.
    /// - Throws: ``BilevelError/exceedsMemoryBudget(method:bytesNeeded:bytesAllowed:)`` beyond
    ///   ``denseHessianByteLimit``.
    /// - Complexity: K(K+1)/2 products of d×n×d: O(K² n d²) flops. Small problems only.
    public func hessian(x: [Double], y: [Double]) throws -> Matrix {
        try check(x, y, "DataHyperCleaning.hessian")
        let d = featureCount, k = classCount, n = trainingCount, p = innerDimension
        let bytes = p * p * MemoryLayout<Double>.stride
        guard bytes <= denseHessianByteLimit else {
            throw BilevelError.exceedsMemoryBudget(method: "DataHyperCleaning.hessian", bytesNeeded: bytes,
                                                   bytesAllowed: denseHessianByteLimit)
        }
        var probabilities = Matrix(rows: k, columns: n)
        try logits(weightMatrix(y), trainingInputs, 0..<n, into: &probabilities)
        _ = softmaxCrossEntropyColumns(&probabilities, count: n, labels: trainingLabels)
        let weights = x.map { logistic($0) / Double(n) }
        var h = Matrix(rows: p, columns: p)
        var scaled = trainingInputs
        var block = Matrix(rows: d, columns: d)
        for c in 0..<k {
            for l in c..<k {
                scaled.storage.withUnsafeMutableBufferPointer { a in
                    trainingInputs.storage.withUnsafeBufferPointer { src in
                        for i in 0..<n {
                            let pc = probabilities[c, i], pl = probabilities[l, i]
                            let coefficient = weights[i] * ((c == l ? pc : 0) - pc * pl)
                            for j in (i * d)..<((i + 1) * d) { a[j] = src[j] * coefficient }
                        }
                    }
                }
                try BLAS.gemm(.none, .transpose, scaled, trainingInputs, beta: 0, &block)
                for col in 0..<d {
                    for row in 0..<d {
                        h[c * d + row, l * d + col] = block[row, col]
                        h[l * d + col, c * d + row] = block[row, col]
                    }
                }
            }
        }
        for j in 0..<p { h[j, j] += 2 * l2 }
        return h
    }

    /// The inner solution `Y*(x)` by damped Newton on the dense Hessian (small problems;
    /// requires `l2 > 0` for a unique minimiser). See ``LogisticRegression/innerSolution(x:start:tolerance:maxIterations:)``.
    public func innerSolution(x: [Double], start: [Double]? = nil, tolerance: Double = 1e-12,
                              maxIterations: Int = 100) throws -> [Double] {
        try newtonInnerSolve(self, x: x, start: start ?? initialInner(), tolerance: tolerance,
                             maxIterations: maxIterations)
    }

    /// Mean cross-entropy and accuracy (arg-max prediction, first maximum on ties) of `Y` on a set.
    private func evaluate(_ inputs: Matrix, _ labels: [Int], _ y: [Double]) throws -> (loss: Double, accuracy: Double) {
        let m = inputs.columns, k = classCount
        if m == 0 { return (0, 0) }
        let weightsY = weightMatrix(y)
        var total = 0.0, correct = 0
        var z = Matrix(rows: k, columns: min(sampleBlockSize, m))
        try forEachSampleBlock(inputs, samples: nil) { block, columns, indices in
            try logits(weightsY, block, columns, into: &z)
            correct += argmaxMatches(z, indices: indices, labels: labels)
            total += softmaxCrossEntropyColumns(&z, count: columns.count, labels: indices.lazy.map { labels[$0] }).reduce(0, +)
        }
        return (total / Double(m), Double(correct) / Double(m))
    }

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        try check(x, y, "DataHyperCleaning.metrics")
        return try hyperCleaningMetrics(
            x: x, corruption: corruption, validation: evaluate(validationInputs, validationLabels, y),
            test: testInputs.columns > 0 ? evaluate(testInputs, testLabels, y) : nil)
    }
}
