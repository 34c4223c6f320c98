import Foundation
import NHGDLinearAlgebra

/// Data hyper-cleaning (ALGORITHMS.md §7) with a one-hidden-layer network: a per-sample
/// weight `σ(xᵢ)` for every training sample, a tanh network of hidden width h trained on the
/// weighted, partly mislabelled training set, and the clean validation cross-entropy outside.
///
/// With inputs `aᵢ ∈ ℝ^d`, `ãᵢ = [aᵢ; 1]`, labels `bᵢ ∈ 0..<K`, and parameters
/// `W̃₁ = [W₁ b₁] ∈ ℝ^{h×(d+1)}`, `W̃₂ = [W₂ b₂] ∈ ℝ^{K×(h+1)}` stored column-major one after
/// the other, `y = [vec W̃₁; vec W̃₂]` (p = (d+1)·h + (h+1)·K; for MNIST, d = 784 and K = 10,
/// p = 785·h + 10·(h+1): h = 128 gives 1.0·10⁵, h = 1280 gives 1.0·10⁶):
///
/// ```
/// zᵢ = W̃₁ãᵢ,  hᵢ = tanh(zᵢ),  h̃ᵢ = [hᵢ; 1],  sᵢ = W̃₂h̃ᵢ,  πᵢ = softmax(sᵢ),  CEᵢ = −log πᵢ[bᵢ]
/// g(x, y) = (1/n) Σᵢ σ(xᵢ) CEᵢ(y) + c ‖y‖²          (ωᵢ = σ(xᵢ), R = c‖y‖², ∇²R = 2c I)
/// f(x, y) = (1/m) Σ_val CEᵢ(y)                       (∇ₓf = 0)
/// ```
///
/// tanh is smooth, so the inner Hessian exists everywhere (it is not positive definite in
/// general: the network is not convex in y).
///
/// **Backpropagation** (per block B of samples, all products `gemm`): with `δ₂ = π − e_b` and
/// per-sample coefficients `cᵢ`, `D₂ = δ₂ diag(c)`,
///
/// ```
/// ∇W̃₂ = D₂ H̃ᵀ,   G = W₂ᵀ D₂,   D₁ = G ⊙ (1 − H²),   ∇W̃₁ = D₁ Ãᵀ.
/// ```
///
/// A per-sample gradient is the column `gᵢ = [ãᵢ ⊗ δ₁ᵢ; h̃ᵢ ⊗ δ₂ᵢ]` (Khatri–Rao columns of
/// `(Ã, D₁)` and `(H̃, D₂)`).
///
/// **Hessian-vector products** by Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact
/// multiplication by the Hessian"): `R{·} = d/dε (·)(y + εv)|₀`, `v = [vec Ṽ₁; vec Ṽ₂]`.
/// Forward R-pass, then backward R-pass:
///
/// ```
/// R{Z} = Ṽ₁Ã,   R{H} = (1 − H²) ⊙ R{Z},   R{S} = Ṽ₂H̃ + W₂R{H},
/// R{D₂} = (π ⊙ (R{S} − 1 πᵀR{S})) diag(c),
/// R{∇W̃₂} = R{D₂} H̃ᵀ + [D₂ R{H}ᵀ  0],
/// R{G} = V₂ᵀD₂ + W₂ᵀR{D₂},   R{D₁} = R{G} ⊙ (1 − H²) − 2 G ⊙ H ⊙ R{H},
/// R{∇W̃₁} = R{D₁} Ãᵀ,        H v = [vec R{∇W̃₁}; vec R{∇W̃₂}] + 2c v.
/// ```
///
/// This is the exact Hessian of the minibatch objective (no finite differences).
///
/// **Cross product**: `(J u)ᵢ = (1/n) σ'(xᵢ) gᵢᵀu` with `gᵢᵀu = δ₂ᵢᵀ R_u{sᵢ}` (the forward
/// R-pass along u), for all n samples blockwise.
///
/// Metrics: `validation_loss` (= f), `validation_accuracy`, `test_loss`, `test_accuracy` (with
/// a test set), and with a corruption record that has both clean and changed samples `auroc`
/// (of the score `1 − σ(xᵢ)` for "label was changed"), `mean_weight_clean`,
/// `mean_weight_corrupted` — as ``DataHyperCleaning``.
public struct MLPHyperCleaning: SecondOrderBilevelProblem, PerSampleLossProblem {
    /// Training inputs with a row of ones appended, (d+1) × n.
    public let trainingInputs: Matrix
    /// Training labels as given to the inner problem (possibly corrupted), in 0..<K.
    public let trainingLabels: [Int]
    /// Validation inputs with a row of ones, (d+1) × m (clean labels).
    public let validationInputs: Matrix
    public let validationLabels: [Int]
    /// Test inputs with a row of ones, (d+1) × m_test (no columns when there is none).
    public let testInputs: Matrix
    public let testLabels: [Int]
    /// h, the hidden width.
    public let hiddenWidth: Int
    /// K, the number of classes.
    public let classCount: Int
    /// c, the fixed L2 coefficient of `R = c‖y‖²`.
    public let l2: Double
    /// Which training labels were corrupted (for the AUROC metric), when known.
    public let corruption: LabelCorruption?
    /// Seeds the Glorot initialisation returned by ``initialInner()``.
    public let initializationSeed: UInt64

    /// d, the number of input features (without the appended one).
    public var featureCount: Int { trainingInputs.rows - 1 }
    public var innerDimension: Int {
        Self.parameterCount(featureCount: featureCount, hiddenWidth: hiddenWidth, classCount: classCount)
    }
    public var outerDimension: Int { trainingInputs.columns }
    public var trainingCount: Int { trainingInputs.columns }
    public var validationCount: Int { validationInputs.columns }

    /// p = (d+1)·h + (h+1)·K.
    public static func parameterCount(featureCount d: Int, hiddenWidth h: Int, classCount k: Int) -> Int {
        (d + 1) * h + (h + 1) * k
    }

    /// - Parameters:
    ///   - training: The (corrupted) training set (features scaled as wanted, no bias feature:
    ///     the network has its own biases).
    ///   - corruption: Its corruption record, for the AUROC metric (length n if given).
    ///   - validation: The clean validation set; `test`: an optional test set.
    ///   - hiddenWidth: h ≥ 1.
    ///   - l2: `c ≥ 0`.
    ///   - initializationSeed: seeds ``initialInner()``.
    /// - Throws: ``BilevelError`` for mismatched feature or class counts, empty sets, a bad
    ///   width or `l2`, or a corruption record of the wrong length.
    public init(training: Dataset, corruption: LabelCorruption? = nil, validation: Dataset, test: Dataset? = nil,
                hiddenWidth: Int, l2: Double, initializationSeed: UInt64 = 0) throws {
        try requireHyperCleaningData(training: training, validation: validation, test: test, "MLPHyperCleaning.init")
        let d = training.featureCount, k = training.classCount
        guard hiddenWidth >= 1 else {
            throw BilevelError.invalidHyperparameter(name: "hiddenWidth", value: "\(hiddenWidth)", requirement: "≥ 1")
        }
        try requireHyperCleaningSettings(l2: l2, corruption: corruption, trainingCount: training.sampleCount,
                                         "MLPHyperCleaning.init")
        trainingInputs = Self.appendingOnes(training.features)
        trainingLabels = training.labels
        validationInputs = Self.appendingOnes(validation.features)
        validationLabels = validation.labels
        testInputs = Self.appendingOnes(test?.features ?? Matrix(rows: d, columns: 0))
        testLabels = test?.labels ?? []
        self.hiddenWidth = hiddenWidth
        classCount = k
        self.l2 = l2
        self.corruption = corruption
        self.initializationSeed = initializationSeed
    }

    /// MNIST-5k pixels scaled to [0, 1] (d = 784, K = 10), a stratified seeded split, and a
    /// fraction of the training labels replaced by uniformly random ones.
    /// - Throws: data-loading errors, or ``BilevelError`` for sizes beyond the 5,000 samples.
    public static func mnist(
        hiddenWidth: Int, trainCount: Int = 2000, validationCount: Int = 1000, testCount: Int = 2000,
        corruptionFraction: Double = 0.5, l2: Double = 1e-3, using rng: inout some RandomNumberGenerator
    ) throws -> MLPHyperCleaning {
        let data = try Dataset.mnist5k().scaled(by: 1.0 / 255)
        let parts = try data.split(trainCount: trainCount, validationCount: validationCount,
                                   testCount: testCount, stratified: true, using: &rng)
        let (corrupted, record) = try parts.training.corruptingLabels(fraction: corruptionFraction, using: &rng)
        return try MLPHyperCleaning(training: corrupted, corruption: record, validation: parts.validation,
                                    test: testCount > 0 ? parts.test : nil, hiddenWidth: hiddenWidth, l2: l2,
                                    initializationSeed: rng.next())
    }

    /// `[A; 1ᵀ]`.
    static func appendingOnes(_ a: Matrix) -> Matrix {
        let d = a.rows, n = a.columns
        var out = Matrix(rows: d + 1, columns: n, repeating: 1)
        out.storage.withUnsafeMutableBufferPointer { o in
            a.storage.withUnsafeBufferPointer { s in
                for j in 0..<n { (o.baseAddress! + j * (d + 1)).update(from: s.baseAddress! + j * d, count: d) }
            }
        }
        return out
    }

    public func initialOuter() -> [Double] { [Double](repeating: 0, count: outerDimension) }

    /// Glorot-uniform weights (`U(±√(6/(fan_in + fan_out)))`, Glorot & Bengio 2010) drawn from
    /// ``initializationSeed``, zero biases.
    public func initialInner() -> [Double] {
        let d = featureCount, h = hiddenWidth, k = classCount
        var rng = Xoshiro256StarStar(seed: initializationSeed)
        var y = [Double](repeating: 0, count: innerDimension)
        let limit1 = (6.0 / Double(d + h)).squareRoot(), limit2 = (6.0 / Double(h + k)).squareRoot()
        for j in 0..<(d * h) { y[j] = Double.random(in: -limit1...limit1, using: &rng) }
        let offset = (d + 1) * h
        for j in 0..<(h * k) { y[offset + j] = Double.random(in: -limit2...limit2, using: &rng) }
        return y
    }

    // MARK: - Layers and passes

    /// `W̃₁` (h × (d+1)) and `W̃₂` (K × (h+1)) of a parameter vector.
    private struct Layers {
        var first: Matrix
        var second: Matrix
    }

    private func layers(_ y: [Double]) -> Layers {
        let split = (featureCount + 1) * hiddenWidth
        return Layers(first: try! Matrix(rows: hiddenWidth, columns: featureCount + 1, storage: Array(y[0..<split])),
                      second: try! Matrix(rows: classCount, columns: hiddenWidth + 1, storage: Array(y[split...])))
    }

    /// Scratch for one block of at most `capacity` samples, allocated once per oracle call.
    private struct Workspace {
        /// `H` (tanh of the pre-activations), h × capacity.
        var activations: Matrix
        /// `H̃ = [H; 1]`, (h+1) × capacity.
        var hidden: Matrix
        /// Logits, then probabilities π, K × capacity.
        var probabilities: Matrix
        /// `D₂`, K × capacity.
        var outputDelta: Matrix
        /// `G`, then `D₁`, h × capacity.
        var hiddenDelta: Matrix

        init(hidden h: Int, classes k: Int, capacity: Int) {
            activations = Matrix(rows: h, columns: capacity)
            self.hidden = Matrix(rows: h + 1, columns: capacity, repeating: 1)
            probabilities = Matrix(rows: k, columns: capacity)
            outputDelta = Matrix(rows: k, columns: capacity)
            hiddenDelta = Matrix(rows: h, columns: capacity)
        }
    }

    private func workspace(for count: Int) -> Workspace {
        Workspace(hidden: hiddenWidth, classes: classCount, capacity: max(1, min(sampleBlockSize, count)))
    }

    /// Forward pass on `block[:, columns]`: fills `activations`, `hidden` and `probabilities`
    /// (leading `columns.count` columns) and returns the cross-entropies.
    /// - Complexity: 2(d+1)h·b + 2(h+1)K·b flops in two `gemm`s, b·h `tanh`s.
    private func forward(_ w: Layers, _ block: Matrix, _ columns: Range<Int>, labels: some Collection<Int>,
                         _ ws: inout Workspace) throws -> [Double] {
        let h = hiddenWidth, count = columns.count
        try BLAS.gemm(.none, .none, w.first, columns: nil, block, columns: columns, beta: 0, &ws.activations, columns: 0..<count)
        ws.activations.storage.withUnsafeMutableBufferPointer { a in
            ws.hidden.storage.withUnsafeMutableBufferPointer { t in
                for j in 0..<count {
                    for r in 0..<h {
                        let value = tanh(a[j * h + r])
                        a[j * h + r] = value
                        t[j * (h + 1) + r] = value
                    }
                    t[j * (h + 1) + h] = 1
                }
            }
        }
        try BLAS.gemm(.none, .none, w.second, columns: nil, ws.hidden, columns: 0..<count, beta: 0, &ws.probabilities, columns: 0..<count)
        return softmaxCrossEntropyColumns(&ws.probabilities, count: count, labels: labels)
    }

    /// `D₂ = (π − e_b) diag(c)` into `outputDelta` and `G = W₂ᵀD₂` into `hiddenDelta` for the
    /// leading `count` columns (after ``forward``).
    private func backward(_ w: Layers, count: Int, labels: some Collection<Int>, coefficients: some Collection<Double>,
                          _ ws: inout Workspace) throws {
        let h = hiddenWidth, k = classCount
        ws.outputDelta.storage.withUnsafeMutableBufferPointer { dp in
            ws.probabilities.storage.withUnsafeBufferPointer { pp in
                for (j, (label, c)) in zip(0..<count, zip(labels, coefficients)) {
                    for r in 0..<k { dp[j * k + r] = c * (pp[j * k + r] - (r == label ? 1 : 0)) }
                }
            }
        }
        try BLAS.gemm(.transpose, .none, w.second, columns: 0..<h, ws.outputDelta, columns: 0..<count,
                      beta: 0, &ws.hiddenDelta, columns: 0..<count)
    }

    /// `D₁ = G ⊙ (1 − H²)` in place of `G` (after ``backward``).
    private func hiddenDeltaFromG(count: Int, _ ws: inout Workspace) {
        let h = hiddenWidth
        ws.hiddenDelta.storage.withUnsafeMutableBufferPointer { dp in
            ws.activations.storage.withUnsafeBufferPointer { a in
                for e in 0..<(count * h) { dp[e] *= 1 - a[e] * a[e] }
            }
        }
    }

    /// `∇W̃₂ += D₂H̃ᵀ`, `∇W̃₁ += D₁ Ã_Bᵀ` (after ``backward``).
    private func accumulateGradient(_ block: Matrix, _ columns: Range<Int>, _ ws: Workspace,
                                    first: inout Matrix, second: inout Matrix) throws {
        let count = columns.count
        try BLAS.gemm(.none, .transpose, ws.outputDelta, columns: 0..<count, ws.hidden, columns: 0..<count,
                      beta: 1, &second)
        try BLAS.gemm(.none, .transpose, ws.hiddenDelta, columns: 0..<count, block, columns: columns,
                      beta: 1, &first)
    }

    // MARK: - Oracles

    /// `gᵢ = [ãᵢ ⊗ δ₁ᵢ; h̃ᵢ ⊗ δ₂ᵢ]` into the columns of `gradients` (p × b), weights `σ(xᵢ)`.
    ///
    /// The deltas come from batched `gemm` backpropagation; the Khatri–Rao columns are then
    /// written as scaled copies of δ₁ᵢ (length h) and δ₂ᵢ (length K) — an outer product has no
    /// reuse for BLAS to exploit, so this pass is bound by writing the p × b output.
    /// - Complexity: ≈ 4p·b flops in `gemm` plus p·b writes.
    public func perSampleGradients(
        x: [Double], y: [Double], samples: [Int], into gradients: inout Matrix, weights: inout [Double]
    ) throws {
        let op = "MLPHyperCleaning.perSampleGradients"
        try check(x, y, op)
        try requireSamples(samples, trainingCount)
        let p = innerDimension, b = samples.count, h = hiddenWidth, k = classCount, rowsA = featureCount + 1
        try requireGradientBlock(gradients, weights, p: p, b: b, op)
        if b == 0 { return }
        let w = layers(y)
        var ws = workspace(for: b)
        var offset = 0
        let split = rowsA * h
        try forEachSampleBlock(trainingInputs, samples: samples) { block, columns, indices in
            let count = columns.count
            let labels = indices.lazy.map { trainingLabels[$0] }
            _ = try forward(w, block, columns, labels: labels, &ws)
            try backward(w, count: count, labels: labels, coefficients: repeatElement(1.0, count: count), &ws)
            hiddenDeltaFromG(count: count, &ws)
            gradients.storage.withUnsafeMutableBufferPointer { out in
                block.storage.withUnsafeBufferPointer { a in
                    ws.hiddenDelta.storage.withUnsafeBufferPointer { d1 in
                        ws.outputDelta.storage.withUnsafeBufferPointer { d2 in
                            ws.hidden.storage.withUnsafeBufferPointer { t in
                                for j in 0..<count {
                                    let column = out.baseAddress! + (offset + j) * p
                                    let input = a.baseAddress! + (columns.lowerBound + j) * rowsA
                                    let delta1 = d1.baseAddress! + j * h
                                    for c in 0..<rowsA {
                                        let scale = input[c], target = column + c * h
                                        for r in 0..<h { target[r] = scale * delta1[r] }
                                    }
                                    let hiddenColumn = t.baseAddress! + j * (h + 1)
                                    let delta2 = d2.baseAddress! + j * k
                                    for c in 0...h {
                                        let scale = hiddenColumn[c], target = column + split + c * k
                                        for r in 0..<k { target[r] = scale * delta2[r] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            offset += count
        }
        for (j, i) in samples.enumerated() { weights[j] = logistic(x[i]) }
    }

    /// `CEᵢ(y)` for the training samples `samples`.
    public func perSampleLosses(y: [Double], samples: [Int]) throws -> [Double] {
        try requireFiniteVector(y, innerDimension, "MLPHyperCleaning.perSampleLosses", "y")
        try requireSamples(samples, trainingCount)
        var losses = [Double]()
        losses.reserveCapacity(samples.count)
        let w = layers(y)
        var ws = workspace(for: samples.count)
        try forEachSampleBlock(trainingInputs, samples: samples) { block, columns, indices in
            losses += try forward(w, block, columns, labels: indices.lazy.map { trainingLabels[$0] }, &ws)
        }
        return losses
    }

    /// `R = c‖y‖²`.
    public func regularizerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "MLPHyperCleaning.regularizerValue")
        let norm = BLAS.norm(y)
        return l2 * norm * norm
    }

    /// `∇_y R = 2c y`.
    public func regularizerGradient(x: [Double], y: [Double], into gradient: inout [Double]) throws {
        try check(x, y, "MLPHyperCleaning.regularizerGradient")
        try requireCount(gradient, innerDimension, "MLPHyperCleaning.regularizerGradient", "gradient")
        gradient = y
        BLAS.scale(&gradient, by: 2 * l2)
    }

    /// `diag ∇²_yy R = 2c`.
    public func regularizerCurvature(x: [Double], y: [Double]) throws -> [Double] {
        try check(x, y, "MLPHyperCleaning.regularizerCurvature")
        return [Double](repeating: 2 * l2, count: innerDimension)
    }

    /// `R_u{S} = Ũ₂H̃ + U₂((1 − H²) ⊙ Ũ₁Ã)` for the leading `count` columns (after ``forward``),
    /// into `result` (K × capacity); `rHidden` (h × capacity) receives `R_u{H}`.
    private func forwardR(_ w: Layers, _ direction: Layers, _ block: Matrix, _ columns: Range<Int>, _ ws: Workspace,
                          rHidden: inout Matrix, result: inout Matrix) throws {
        let count = columns.count, h = hiddenWidth
        try BLAS.gemm(.none, .none, direction.first, columns: nil, block, columns: columns, beta: 0, &rHidden, columns: 0..<count)
        rHidden.storage.withUnsafeMutableBufferPointer { r in
            ws.activations.storage.withUnsafeBufferPointer { a in
                for e in 0..<(count * h) { r[e] *= 1 - a[e] * a[e] }
            }
        }
        try BLAS.gemm(.none, .none, direction.second, columns: nil, ws.hidden, columns: 0..<count, beta: 0, &result, columns: 0..<count)
        try BLAS.gemm(.none, .none, w.second, columns: 0..<h, rHidden, columns: 0..<count, beta: 1, &result, columns: 0..<count)
    }

    /// `(J u)ᵢ = (1/n) σ'(xᵢ) δ₂ᵢᵀ R_u{sᵢ}` for all n samples, blockwise (forward pass and
    /// forward R-pass by `gemm`, then one K-term dot product per sample).
    /// - Complexity: ≈ 4p·n flops.
    public func crossProduct(x: [Double], y: [Double], u: [Double]) throws -> [Double] {
        try check(x, y, "MLPHyperCleaning.crossProduct")
        try requireFiniteVector(u, innerDimension, "MLPHyperCleaning.crossProduct", "u")
        let n = trainingCount, k = classCount
        let w = layers(y), direction = layers(u)
        var ws = workspace(for: n)
        var rHidden = ws.activations, rLogits = ws.probabilities
        var result = [Double](repeating: 0, count: n)
        try forEachSampleBlock(trainingInputs, samples: nil) { block, columns, indices in
            _ = try forward(w, block, columns, labels: indices.lazy.map { trainingLabels[$0] }, &ws)
            try forwardR(w, direction, block, columns, ws, rHidden: &rHidden, result: &rLogits)
            for (j, i) in indices.enumerated() {
                var inner = -rLogits[trainingLabels[i], j]
                for c in 0..<k { inner += ws.probabilities[c, j] * rLogits[c, j] }
                let s = logistic(x[i])
                result[i] = s * (1 - s) * inner / Double(n)
            }
        }
        return result
    }

    /// `g = (1/n) Σ σ(xᵢ) CEᵢ + c‖y‖²`.
    public func innerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "MLPHyperCleaning.innerValue")
        let losses = try perSampleLosses(y: y, samples: Array(0..<trainingCount))
        return sampleWeightedMeanLoss(x: x, losses: losses) + (try regularizerValue(x: x, y: y))
    }

    /// `f = (1/m) Σ_val CEᵢ`.
    public func outerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "MLPHyperCleaning.outerValue")
        return try evaluate(validationInputs, validationLabels, y).loss
    }

    /// `∇ₓf = 0`, `∇_y f` by backpropagation over the validation set (coefficients 1/m).
    public func outerGradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        try check(x, y, "MLPHyperCleaning.outerGradients")
        let m = validationCount
        let w = layers(y)
        var first = Matrix(rows: hiddenWidth, columns: featureCount + 1)
        var second = Matrix(rows: classCount, columns: hiddenWidth + 1)
        var ws = workspace(for: m)
        try forEachSampleBlock(validationInputs, samples: nil) { block, columns, indices in
            let labels = indices.lazy.map { validationLabels[$0] }
            _ = try forward(w, block, columns, labels: labels, &ws)
            try backward(w, count: columns.count, labels: labels,
                         coefficients: repeatElement(1 / Double(m), count: columns.count), &ws)
            hiddenDeltaFromG(count: columns.count, &ws)
            try accumulateGradient(block, columns, ws, first: &first, second: &second)
        }
        return ([Double](repeating: 0, count: outerDimension), first.storage + second.storage)
    }

    /// `H v` on the samples `samples` (all n when nil) by the R-operator (see the type's
    /// documentation), plus `2c v`.
    /// - Complexity: ≈ 12p·|B| flops in nine `gemm`s per block (three of them p·|B|-sized
    ///   products with the input matrix, the rest of size (h+1)·K·|B|).
    public func hessianVectorProduct(
        x: [Double], y: [Double], v: [Double], samples: [Int]?, into result: inout [Double]
    ) throws {
        let op = "MLPHyperCleaning.hessianVectorProduct"
        try check(x, y, op)
        try requireFiniteVector(v, innerDimension, op, "v")
        try requireCount(result, innerDimension, op, "result")
        if let samples { try requireSamples(samples, trainingCount) }
        let h = hiddenWidth, k = classCount
        let count = samples?.count ?? trainingCount
        let w = layers(y), direction = layers(v)
        var first = Matrix(rows: h, columns: featureCount + 1)
        var second = Matrix(rows: k, columns: h + 1)
        if count > 0 {
            var ws = workspace(for: count)
            var rHidden = ws.activations, rLogits = ws.probabilities, rG = ws.hiddenDelta
            let scale = 1 / Double(count)
            try forEachSampleBlock(trainingInputs, samples: samples) { block, columns, indices in
                    let b = columns.count
                    let labels = indices.lazy.map { trainingLabels[$0] }
                    let coefficients = indices.map { logistic(x[$0]) * scale }
                    _ = try forward(w, block, columns, labels: labels, &ws)
                    try forwardR(w, direction, block, columns, ws, rHidden: &rHidden, result: &rLogits)
                    try backward(w, count: b, labels: labels, coefficients: coefficients, &ws)
                    // R{D₂} = c ⊙ π ⊙ (R{S} − πᵀR{S}), in place of R{S}.
                    for j in 0..<b {
                        var mean = 0.0
                        for c in 0..<k { mean += ws.probabilities[c, j] * rLogits[c, j] }
                        for c in 0..<k { rLogits[c, j] = coefficients[j] * ws.probabilities[c, j] * (rLogits[c, j] - mean) }
                    }
                    // R{∇W̃₂} += R{D₂}H̃ᵀ + [D₂R{H}ᵀ 0].
                    try BLAS.gemm(.none, .transpose, rLogits, columns: 0..<b, ws.hidden, columns: 0..<b, beta: 1, &second)
                    try BLAS.gemm(.none, .transpose, ws.outputDelta, columns: 0..<b, rHidden, columns: 0..<b,
                                  beta: 1, &second, columns: 0..<h)
                    // R{G} = V₂ᵀD₂ + W₂ᵀR{D₂}.
                    try BLAS.gemm(.transpose, .none, direction.second, columns: 0..<h, ws.outputDelta, columns: 0..<b,
                                  beta: 0, &rG, columns: 0..<b)
                    try BLAS.gemm(.transpose, .none, w.second, columns: 0..<h, rLogits, columns: 0..<b,
                                  beta: 1, &rG, columns: 0..<b)
                    // R{D₁} = R{G} ⊙ (1 − H²) − 2 G ⊙ H ⊙ R{H}.
                    rG.storage.withUnsafeMutableBufferPointer { rg in
                        ws.hiddenDelta.storage.withUnsafeBufferPointer { gp in
                            ws.activations.storage.withUnsafeBufferPointer { a in
                                rHidden.storage.withUnsafeBufferPointer { rh in
                                    for e in 0..<(b * h) {
                                        rg[e] = rg[e] * (1 - a[e] * a[e]) - 2 * gp[e] * a[e] * rh[e]
                                    }
                                }
                            }
                        }
                    }
                    // R{∇W̃₁} += R{D₁}Ãᵀ.
                    try BLAS.gemm(.none, .transpose, rG, columns: 0..<b, block, columns: columns, beta: 1, &first)
            }
        }
        var out = first.storage + second.storage
        BLAS.axpy(2 * l2, v, &out)
        result = out
    }

    /// Mean cross-entropy and accuracy (arg-max prediction, first maximum on ties) on a set.
    private func evaluate(_ inputs: Matrix, _ labels: [Int], _ y: [Double]) throws -> (loss: Double, accuracy: Double) {
        let m = inputs.columns
        if m == 0 { return (0, 0) }
        let w = layers(y)
        var ws = workspace(for: m)
        var total = 0.0, correct = 0
        try forEachSampleBlock(inputs, samples: nil) { block, columns, indices in
            total += try forward(w, block, columns, labels: indices.lazy.map { labels[$0] }, &ws).reduce(0, +)
            correct += argmaxMatches(ws.probabilities, indices: indices, labels: labels)
        }
        return (total / Double(m), Double(correct) / Double(m))
    }

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        try check(x, y, "MLPHyperCleaning.metrics")
        return try hyperCleaningMetrics(
            x: x, corruption: corruption, validation: evaluate(validationInputs, validationLabels, y),
            test: testInputs.columns > 0 ? evaluate(testInputs, testLabels, y) : nil)
    }
}
