import Foundation
import NHGDLinearAlgebra

/// A one-hidden-layer tanh network with a softmax output and cross-entropy loss, as the data
/// term of data hyper-cleaning at scale (p from 10⁵ to 10⁶; ALGORITHMS.md §7–8).
///
/// With inputs `aᵢ ∈ ℝ^d`, `ãᵢ = [aᵢ; 1]`, labels `bᵢ ∈ 0..<K`, and parameters
/// `W̃₁ = [W₁ b₁] ∈ ℝ^{h×(d+1)}`, `W̃₂ = [W₂ b₂] ∈ ℝ^{K×(h+1)}` stored column-major one after
/// the other, `y = [vec W̃₁; vec W̃₂]` (p = (d+1)·h + (h+1)·K; for MNIST, d = 784 and K = 10,
/// h = 128 gives p = 1.0·10⁵, h = 1280 gives 1.0·10⁶):
///
/// ```
/// zᵢ = W̃₁ãᵢ,  hᵢ = tanh(zᵢ),  h̃ᵢ = [hᵢ; 1],  sᵢ = W̃₂h̃ᵢ,  πᵢ = softmax(sᵢ),  ℓᵢ = −log πᵢ[bᵢ]
/// ```
///
/// tanh is smooth, so the Hessian exists everywhere (it is not positive definite in general:
/// the network is not convex in y).
///
/// **Gradient combinations** (per block B, all products gemm): with `δ₂ = π − e_b` (K × b) and
/// `δ₁ = (W₂ᵀδ₂) ⊙ (1 − H²)` (h × b), one backward pass for all columns, column j of `G C` is
///
/// ```
/// [vec(δ₁ diag(C_j) Ãᵀ);  vec(δ₂ diag(C_j) H̃ᵀ)]        (2pb flops per column, no p × b block)
/// ```
///
/// (per-sample gradients are the Khatri–Rao columns `[ãᵢ ⊗ δ₁ᵢ; h̃ᵢ ⊗ δ₂ᵢ]`, C = I). Sampled
/// labels replace δ₂ by `π − e_{b̃}` and δ₁ accordingly, from the same forward pass.
///
/// **Hessian-vector products** by Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact
/// multiplication by the Hessian"): `R{·} = d/dε (·)(y + εv)|₀`, `v = [vec Ṽ₁; vec Ṽ₂]`,
/// with per-sample coefficients c (`D₂ = δ₂ diag(c)`, `G = W₂ᵀD₂`):
///
/// ```
/// R{Z} = Ṽ₁Ã,   R{H} = (1 − H²) ⊙ R{Z},   R{S} = Ṽ₂H̃ + W₂R{H},
/// R{D₂} = (π ⊙ (R{S} − 1 πᵀR{S})) diag(c),
/// R{∇W̃₂} = R{D₂} H̃ᵀ + [D₂ R{H}ᵀ  0],
/// R{G} = V₂ᵀD₂ + W₂ᵀR{D₂},   R{D₁} = R{G} ⊙ (1 − H²) − 2 G ⊙ H ⊙ R{H},
/// R{∇W̃₁} = R{D₁} Ãᵀ,        H v = [vec R{∇W̃₁}; vec R{∇W̃₂}].
/// ```
///
/// **Projections** `gᵢᵀu = δ₂ᵢᵀ R_u{sᵢ}` (the forward R-pass along u).
public struct TanhNetwork: SecondOrderSampleLosses, LikelihoodSampleLosses, ClassifierSampleLosses {
    /// The inputs with a row of ones appended, (d+1) × n.
    public let inputs: Matrix
    /// Labels in 0..<K.
    public let labels: [Int]
    /// h, the hidden width.
    public let hiddenWidth: Int
    /// K, the number of classes.
    public let classCount: Int
    /// Seeds the Glorot initialisation of ``initialParameters()``.
    public let initializationSeed: UInt64

    /// d, the number of input features (without the appended one).
    public var featureCount: Int { inputs.rows - 1 }
    public var parameterCount: Int {
        Self.parameterCount(featureCount: featureCount, hiddenWidth: hiddenWidth, classCount: classCount)
    }
    public var sampleCount: Int { inputs.columns }

    /// p = (d+1)·h + (h+1)·K.
    public static func parameterCount(featureCount d: Int, hiddenWidth h: Int, classCount k: Int) -> Int {
        (d + 1) * h + (h + 1) * k
    }

    /// - Parameters:
    ///   - inputs: d × n features (no bias row: the network has its own biases).
    ///   - labels: n class indices in 0..<classCount.
    /// - Throws: ``BilevelError`` for a width below 1, fewer than two classes, a label outside
    ///   0..<K, a label count other than n, or NaN/∞ inputs.
    public init(inputs: Matrix, labels: [Int], classCount: Int, hiddenWidth: Int, initializationSeed: UInt64 = 0) throws {
        let operation = "TanhNetwork.init"
        guard hiddenWidth >= 1 else {
            throw BilevelError.invalidHyperparameter(name: "hiddenWidth", value: "\(hiddenWidth)", requirement: "≥ 1")
        }
        guard classCount >= 2 else {
            throw BilevelError.invalidHyperparameter(name: "classCount", value: "\(classCount)", requirement: "≥ 2")
        }
        guard labels.count == inputs.columns else {
            throw BilevelError.dimensionMismatch(operation: operation, expected: "\(inputs.columns) labels",
                                                 actual: "\(labels.count)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw BilevelError.invalidHyperparameter(name: "labels[\(bad)]", value: "\(labels[bad])",
                                                     requirement: "a class index in 0..<\(classCount)")
        }
        if inputs.firstNonFiniteIndex != nil { throw BilevelError.nonFinite(operation: operation, argument: "inputs") }
        self.inputs = Self.appendingOnes(inputs)
        self.labels = labels
        self.hiddenWidth = hiddenWidth
        self.classCount = classCount
        self.initializationSeed = initializationSeed
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

    /// Glorot-uniform weights (`U(±√(6/(fan_in + fan_out)))`, Glorot & Bengio 2010) drawn from
    /// ``initializationSeed``, zero biases.
    public func initialParameters() -> [Double] {
        let d = featureCount, h = hiddenWidth, k = classCount
        var rng = Xoshiro256StarStar(seed: initializationSeed)
        var y = [Double](repeating: 0, count: parameterCount)
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
        /// `δ₂` (or `D₂`), K × capacity.
        var outputDelta: Matrix
        /// `G`, then `δ₁` (or `D₁`), h × capacity.
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

    private var softmax: SoftmaxCrossEntropy { SoftmaxCrossEntropy(classCount: classCount) }

    private func blockLabels(_ samples: [Int]?, _ offset: Int, _ count: Int) -> [Double] {
        (offset..<(offset + count)).map { Double(labels[sampleIndex(samples, $0)]) }
    }

    /// Forward pass on `block[:, columns]`: fills `activations`, `hidden` and, as logits,
    /// `probabilities` (leading `columns.count` columns).
    /// - Complexity: 2(d+1)h·b + 2(h+1)K·b flops in two `gemm`s, b·h `tanh`s.
    private func forward(_ w: Layers, _ block: Matrix, _ columns: Range<Int>, _ ws: inout Workspace) throws {
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
        try BLAS.gemm(.none, .none, w.second, columns: nil, ws.hidden, columns: 0..<count, beta: 0, &ws.probabilities,
                      columns: 0..<count)
    }

    /// `δ₂ = (π − e_b)` (from `probabilities`, which hold π) into `outputDelta`, then
    /// `δ₁ = (W₂ᵀ D₂) ⊙ (1 − H²)` into `hiddenDelta` (only `G = W₂ᵀD₂` without
    /// `tanhDerivative`), for the leading `count` columns; with `coefficients`,
    /// `D₂ = δ₂ diag(c)` instead of δ₂.
    private func backward(_ w: Layers, count: Int, residual: (inout Matrix) -> Void, coefficients: [Double]?,
                          tanhDerivative: Bool = true, _ ws: inout Workspace) throws {
        let h = hiddenWidth, k = classCount
        ws.outputDelta.storage.withUnsafeMutableBufferPointer { dp in
            ws.probabilities.storage.withUnsafeBufferPointer { pp in
                dp.baseAddress!.update(from: pp.baseAddress!, count: count * k)
            }
        }
        residual(&ws.outputDelta)
        if let coefficients {
            for j in 0..<count { for r in 0..<k { ws.outputDelta[r, j] *= coefficients[j] } }
        }
        try BLAS.gemm(.transpose, .none, w.second, columns: 0..<h, ws.outputDelta, columns: 0..<count,
                      beta: 0, &ws.hiddenDelta, columns: 0..<count)
        if !tanhDerivative { return }
        ws.hiddenDelta.storage.withUnsafeMutableBufferPointer { dp in
            ws.activations.storage.withUnsafeBufferPointer { a in
                for e in 0..<(count * h) { dp[e] *= 1 - a[e] * a[e] }
            }
        }
    }

    // MARK: - Oracles

    public func losses(at y: [Double], samples: [Int]?) throws -> [Double] {
        var losses = [Double]()
        losses.reserveCapacity(samples?.count ?? sampleCount)
        let w = layers(y)
        var ws = workspace(for: samples?.count ?? sampleCount)
        try forEachSampleBlock(inputs, samples: samples) { block, columns, offset in
            try forward(w, block, columns, &ws)
            losses += softmax.losses(outputs: ws.probabilities, count: columns.count,
                                     targets: blockLabels(samples, offset, columns.count))
        }
        return losses
    }

    /// See ``LikelihoodSampleLosses/gradientCombinations(at:samples:coefficients:sampledLabelColumns:using:into:)``.
    /// - Complexity: per block, one forward and one backward pass (≈ 4pb flops) per label set,
    ///   then 2pb flops per column in two gemms writing the column's two parameter blocks.
    public func gradientCombinations(
        at y: [Double], samples: [Int]?, coefficients: Matrix, sampledLabelColumns: Range<Int>,
        using rng: inout Xoshiro256StarStar, into result: inout Matrix
    ) throws {
        let p = parameterCount, s = coefficients.columns, h = hiddenWidth, k = classCount, rowsA = featureCount + 1
        let total = samples?.count ?? sampleCount
        precondition(coefficients.rows == total && result.rows == p && result.columns == s,
                     "TanhNetwork.gradientCombinations: shapes")
        if total == 0 { BLAS.scale(&result.storage, by: 0); return }
        let w = layers(y)
        var ws = workspace(for: total)
        var sampledWs = ws
        let wantsSampled = !sampledLabelColumns.isEmpty
        var scaled1 = Matrix(rows: h, columns: ws.activations.columns)
        var scaled2 = Matrix(rows: k, columns: ws.activations.columns)
        let split = rowsA * h
        var first = true
        try forEachSampleBlock(inputs, samples: samples) { block, columns, offset in
            let b = columns.count
            try forward(w, block, columns, &ws)
            softmax.prepare(&ws.probabilities, count: b)
            if wantsSampled {
                sampledWs = ws
                try backward(w, count: b, residual: { softmax.sampledResiduals(&$0, count: b, using: &rng) },
                             coefficients: nil, &sampledWs)
            }
            let targets = blockLabels(samples, offset, b)
            try backward(w, count: b, residual: { softmax.residuals(&$0, count: b, targets: targets) },
                         coefficients: nil, &ws)
            for j in 0..<s {
                let deltas = sampledLabelColumns.contains(j) ? sampledWs : ws
                // D₁ = δ₁ diag(C_j), D₂ = δ₂ diag(C_j).
                for i in 0..<b {
                    let c = coefficients[offset + i, j]
                    for r in 0..<h { scaled1[r, i] = c * deltas.hiddenDelta[r, i] }
                    for r in 0..<k { scaled2[r, i] = c * deltas.outputDelta[r, i] }
                }
                result.storage.withUnsafeMutableBufferPointer { out in
                    block.storage.withUnsafeBufferPointer { a in
                        ws.hidden.storage.withUnsafeBufferPointer { t in
                            scaled1.storage.withUnsafeBufferPointer { d1 in
                                scaled2.storage.withUnsafeBufferPointer { d2 in
                                    let column = out.baseAddress! + j * p
                                    BLAS.gemm(.none, .transpose, m: h, n: rowsA, k: b, d1.baseAddress!, lda: h,
                                              a.baseAddress! + columns.lowerBound * rowsA, ldb: rowsA,
                                              beta: first ? 0 : 1, column, ldc: h)
                                    BLAS.gemm(.none, .transpose, m: k, n: h + 1, k: b, d2.baseAddress!, lda: k,
                                              t.baseAddress!, ldb: h + 1, beta: first ? 0 : 1, column + split, ldc: k)
                                }
                            }
                        }
                    }
                }
            }
            first = false
        }
    }

    /// `R_u{S} = Ũ₂H̃ + U₂((1 − H²) ⊙ Ũ₁Ã)` for the leading `count` columns (after ``forward``),
    /// into `result` (K × capacity); `rHidden` (h × capacity) receives `R_u{H}`.
    private func forwardR(_ w: Layers, _ direction: Layers, _ block: Matrix, _ columns: Range<Int>, _ ws: Workspace,
                          rHidden: inout Matrix, result: inout Matrix) throws {
        let count = columns.count, h = hiddenWidth
        try BLAS.gemm(.none, .none, direction.first, columns: nil, block, columns: columns, beta: 0, &rHidden,
                      columns: 0..<count)
        rHidden.storage.withUnsafeMutableBufferPointer { r in
            ws.activations.storage.withUnsafeBufferPointer { a in
                for e in 0..<(count * h) { r[e] *= 1 - a[e] * a[e] }
            }
        }
        try BLAS.gemm(.none, .none, direction.second, columns: nil, ws.hidden, columns: 0..<count, beta: 0, &result,
                      columns: 0..<count)
        try BLAS.gemm(.none, .none, w.second, columns: 0..<h, rHidden, columns: 0..<count, beta: 1, &result,
                      columns: 0..<count)
    }

    /// `gᵢᵀu = δ₂ᵢᵀ R_u{sᵢ}`: forward pass and forward R-pass by gemm, then a K-term dot product.
    /// - Complexity: ≈ 4pb flops.
    public func gradientProjections(at y: [Double], along u: [Double], samples: [Int]?) throws -> [Double] {
        let k = classCount
        let w = layers(y), direction = layers(u)
        var ws = workspace(for: samples?.count ?? sampleCount)
        var rHidden = ws.activations, rLogits = ws.probabilities
        var result = [Double]()
        result.reserveCapacity(samples?.count ?? sampleCount)
        try forEachSampleBlock(inputs, samples: samples) { block, columns, offset in
            try forward(w, block, columns, &ws)
            softmax.prepare(&ws.probabilities, count: columns.count)
            try forwardR(w, direction, block, columns, ws, rHidden: &rHidden, result: &rLogits)
            for j in 0..<columns.count {
                var inner = -rLogits[labels[sampleIndex(samples, offset + j)], j]
                for c in 0..<k { inner += ws.probabilities[c, j] * rLogits[c, j] }
                result.append(inner)
            }
        }
        return result
    }

    /// `Σᵢ cᵢ ∇²ℓᵢ v` by the R-operator (see the type's documentation).
    /// - Complexity: ≈ 12p·b flops in nine `gemm`s per block (three of them p·b-sized products
    ///   with the inputs, the rest of size (h+1)·K·b).
    public func hessianVectorProduct(at y: [Double], v: [Double], samples: [Int]?, coefficients: [Double],
                                     into result: inout [Double]) throws {
        let h = hiddenWidth, k = classCount
        let count = samples?.count ?? sampleCount
        precondition(coefficients.count == count && result.count == parameterCount && v.count == parameterCount,
                     "TanhNetwork.hessianVectorProduct: shapes")
        let w = layers(y), direction = layers(v)
        var first = Matrix(rows: h, columns: featureCount + 1)
        var second = Matrix(rows: k, columns: h + 1)
        if count > 0 {
            var ws = workspace(for: count)
            var rHidden = ws.activations, rLogits = ws.probabilities, rG = ws.hiddenDelta
            try forEachSampleBlock(inputs, samples: samples) { block, columns, offset in
                let b = columns.count
                let blockCoefficients = Array(coefficients[offset..<(offset + b)])
                let targets = blockLabels(samples, offset, b)
                try forward(w, block, columns, &ws)
                softmax.prepare(&ws.probabilities, count: b)
                try forwardR(w, direction, block, columns, ws, rHidden: &rHidden, result: &rLogits)
                // D₂ = c ⊙ (π − e_b) and G = W₂ᵀD₂.
                try backward(w, count: b, residual: { softmax.residuals(&$0, count: b, targets: targets) },
                             coefficients: blockCoefficients, tanhDerivative: false, &ws)
                // R{D₂} = c ⊙ π ⊙ (R{S} − πᵀR{S}), in place of R{S}.
                for j in 0..<b {
                    var mean = 0.0
                    for c in 0..<k { mean += ws.probabilities[c, j] * rLogits[c, j] }
                    for c in 0..<k {
                        rLogits[c, j] = blockCoefficients[j] * ws.probabilities[c, j] * (rLogits[c, j] - mean)
                    }
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
        result = first.storage + second.storage
    }

    /// The fraction of samples whose arg-max class (first maximum on ties) is their label.
    public func accuracy(at y: [Double]) throws -> Double {
        if sampleCount == 0 { return 0 }
        let w = layers(y)
        var ws = workspace(for: sampleCount)
        var correct = 0
        try forEachSampleBlock(inputs, samples: nil) { block, columns, offset in
            try forward(w, block, columns, &ws)
            for j in 0..<columns.count where softmax.predictedClass(outputs: ws.probabilities, column: j) == labels[offset + j] {
                correct += 1
            }
        }
        return Double(correct) / Double(sampleCount)
    }
}
