import NHGDLinearAlgebra

/// A linear model with K outputs on dense inputs, `zᵢ = Yᵀaᵢ`, with a per-sample
/// ``OutputLoss`` `ℓᵢ(y) = ℓ(Yᵀaᵢ, tᵢ)` (ALGORITHMS.md §7): ridge regression
/// (``SquaredError``), logistic regression (``BinaryCrossEntropy``) and the softmax regression
/// of data hyper-cleaning (``SoftmaxCrossEntropy``).
///
/// Inputs `aᵢ ∈ ℝ^d` are the columns of `A` (d × n); the parameters are `Y ∈ ℝ^{d×K}` stored
/// column-major, `y = vec(Y)` (p = d·K, `Y[j, c] = y[j + c·d]`). With `ρᵢ = ∂ℓ/∂z` and
/// `Λᵢ = ∂²ℓ/∂z²` at `zᵢ`:
///
/// ```
/// gᵢ = vec(aᵢ ρᵢᵀ) = ρᵢ ⊗ aᵢ,        ∇²ℓᵢ = Λᵢ ⊗ aᵢaᵢᵀ
/// G C (column j) = vec(A_B diag(C_j) R_Bᵀ),     R_B = [ρᵢ] (K × b)
/// ```
///
/// so the whole combination block is **one gemm** `A_B M` of (d × b)(b × Ks) with
/// `M[i, c + jK] = C[i, j] ρ_{ci}`, written straight into the p × s result (read as d × Ks): no
/// p × b intermediate, 2pbs flops. Hessian-vector products are `vec(A_B Tᵀ)` with
/// `tᵢ = cᵢ Λᵢ (Vᵀaᵢ)`, and projections `gᵢᵀu = ρᵢᵀ(Uᵀaᵢ)`, each after one gemm for the outputs.
public struct LinearModel<Loss: OutputLoss>: DenseHessianSampleLosses, LikelihoodSampleLosses {
    /// The inputs, d × n (a bias feature included if wanted).
    public let inputs: Matrix
    /// The targets `tᵢ` (n), as the loss reads them (class indices for classification).
    public let targets: [Double]
    /// The per-sample loss.
    public let loss: Loss

    /// d.
    public var featureCount: Int { inputs.rows }
    /// K.
    public var outputCount: Int { loss.outputCount }
    public var parameterCount: Int { inputs.rows * loss.outputCount }
    public var sampleCount: Int { inputs.columns }

    /// - Throws: ``BilevelError/dimensionMismatch(operation:expected:actual:)`` unless there is
    ///   one target per input column, ``BilevelError/nonFinite(operation:argument:)`` for NaN/∞
    ///   inputs, ``BilevelError/invalidHyperparameter(name:value:requirement:)`` for a target
    ///   the loss does not accept (a label outside 0..<K, a logistic label other than 0 or 1).
    public init(inputs: Matrix, targets: [Double], loss: Loss) throws {
        try loss.validate(targets: targets, count: inputs.columns, operation: "LinearModel.init")
        if inputs.firstNonFiniteIndex != nil { throw BilevelError.nonFinite(operation: "LinearModel.init", argument: "inputs") }
        self.inputs = inputs
        self.targets = targets
        self.loss = loss
    }

    /// `Y` as a d × K matrix sharing `y`'s storage (copy-on-write: no copy).
    private func weights(_ y: [Double]) -> Matrix {
        try! Matrix(rows: featureCount, columns: outputCount, storage: y)
    }

    /// The targets of the samples `offset..<offset + count` of `samples`.
    private func blockTargets(_ samples: [Int]?, _ offset: Int, _ count: Int) -> [Double] {
        (offset..<(offset + count)).map { targets[sampleIndex(samples, $0)] }
    }

    /// `Z = Yᵀ block[:, columns]` into the leading columns of `z` (K × capacity).
    private func outputs(_ w: Matrix, _ block: Matrix, _ columns: Range<Int>, into z: inout Matrix) throws {
        try BLAS.gemm(.transpose, .none, w, columns: nil, block, columns: columns, beta: 0, &z, columns: 0..<columns.count)
    }

    private func outputScratch(_ count: Int) -> Matrix {
        Matrix(rows: outputCount, columns: max(1, min(sampleBlockSize, count)))
    }

    private func count(_ samples: [Int]?) -> Int { samples?.count ?? sampleCount }

    public func losses(at y: [Double], samples: [Int]?) throws -> [Double] {
        var result = [Double]()
        result.reserveCapacity(count(samples))
        let w = weights(y)
        var z = outputScratch(count(samples))
        try forEachSampleBlock(inputs, samples: samples) { block, columns, offset in
            try outputs(w, block, columns, into: &z)
            result += loss.losses(outputs: z, count: columns.count, targets: blockTargets(samples, offset, columns.count))
        }
        return result
    }

    /// See ``LikelihoodSampleLosses/gradientCombinations(at:samples:coefficients:sampledLabelColumns:using:into:)``.
    /// - Complexity: per block of ≤ 256 samples, 2dKb flops for the outputs and one gemm of
    ///   2pbs flops writing the p × s result; O(K b s) to form M.
    public func gradientCombinations(
        at y: [Double], samples: [Int]?, coefficients: Matrix, sampledLabelColumns: Range<Int>,
        using rng: inout Xoshiro256StarStar, into result: inout Matrix
    ) throws {
        let k = outputCount, s = coefficients.columns, d = featureCount
        precondition(coefficients.rows == count(samples) && result.rows == parameterCount && result.columns == s,
                     "LinearModel.gradientCombinations: shapes")
        let w = weights(y)
        var z = outputScratch(count(samples))
        var sampled = z
        let wantsSampled = !sampledLabelColumns.isEmpty
        var m = Matrix(rows: z.columns, columns: k * s)
        var first = true
        try result.withReshaped(rows: d, columns: k * s) { out in
            if count(samples) == 0 { BLAS.scale(&out.storage, by: 0) }
            try forEachSampleBlock(inputs, samples: samples) { block, columns, offset in
                let b = columns.count
                try outputs(w, block, columns, into: &z)
                loss.prepare(&z, count: b)
                if wantsSampled {
                    sampled.storage.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: z.storage) }
                    loss.sampledResiduals(&sampled, count: b, using: &rng)
                }
                loss.residuals(&z, count: b, targets: blockTargets(samples, offset, b))
                if m.rows != b { m = Matrix(rows: b, columns: k * s) }
                m.storage.withUnsafeMutableBufferPointer { mp in
                    coefficients.storage.withUnsafeBufferPointer { cp in
                        for j in 0..<s {
                            let residual = sampledLabelColumns.contains(j) ? sampled : z
                            residual.storage.withUnsafeBufferPointer { rp in
                                for c in 0..<k {
                                    let column = mp.baseAddress! + (c + j * k) * b
                                    for i in 0..<b { column[i] = cp[offset + i + j * coefficients.rows] * rp[c + i * k] }
                                }
                            }
                        }
                    }
                }
                try BLAS.gemm(.none, .none, block, columns: columns, m, beta: first ? 0 : 1, &out)
                first = false
            }
        }
    }

    /// `gᵢᵀu = ρᵢᵀ(Uᵀaᵢ)`: two gemms for the outputs along y and u, then K-term dot products.
    public func gradientProjections(at y: [Double], along u: [Double], samples: [Int]?) throws -> [Double] {
        let k = outputCount
        let w = weights(y), direction = weights(u)
        var z = outputScratch(count(samples)), along = z
        var result = [Double]()
        result.reserveCapacity(count(samples))
        try forEachSampleBlock(inputs, samples: samples) { block, columns, offset in
            let b = columns.count
            try outputs(w, block, columns, into: &z)
            loss.prepare(&z, count: b)
            loss.residuals(&z, count: b, targets: blockTargets(samples, offset, b))
            try outputs(direction, block, columns, into: &along)
            for j in 0..<b {
                var total = 0.0
                for c in 0..<k { total += z[c, j] * along[c, j] }
                result.append(total)
            }
        }
        return result
    }

    /// `Σᵢ cᵢ (Λᵢ ⊗ aᵢaᵢᵀ) v = vec(A_B Tᵀ)`, `tᵢ = cᵢ Λᵢ Vᵀaᵢ`.
    /// - Complexity: 6pb flops in three gemms per block.
    public func hessianVectorProduct(at y: [Double], v: [Double], samples: [Int]?, coefficients: [Double],
                                     into result: inout [Double]) throws {
        precondition(coefficients.count == count(samples) && result.count == parameterCount && v.count == parameterCount,
                     "LinearModel.hessianVectorProduct: shapes")
        let w = weights(y), direction = weights(v)
        var z = outputScratch(count(samples)), along = z
        var product = Matrix(rows: featureCount, columns: outputCount)
        try forEachSampleBlock(inputs, samples: samples) { block, columns, offset in
            let b = columns.count
            try outputs(w, block, columns, into: &z)
            loss.prepare(&z, count: b)
            try outputs(direction, block, columns, into: &along)
            loss.curvatureProducts(state: z, &along, count: b)
            for j in 0..<b {
                for c in 0..<outputCount { along[c, j] *= coefficients[offset + j] }
            }
            try BLAS.gemm(.none, .transpose, block, columns: columns, along, columns: 0..<b, beta: 1, &product)
        }
        result = product.storage
    }

    /// `h += Σᵢ cᵢ Λᵢ ⊗ aᵢaᵢᵀ`: block `(c, l)` (rows `c·d..<(c+1)·d`, columns `l·d..<(l+1)·d`) is
    /// `A diag(cᵢ Λᵢ[c, l]) Aᵀ`.
    /// - Complexity: K(K+1)/2 gemms of d × n × d: O(K² n d²) flops. Small problems only.
    public func addHessian(at y: [Double], coefficients: [Double], to h: inout Matrix) throws {
        let d = featureCount, k = outputCount, n = sampleCount
        precondition(coefficients.count == n && h.rows == parameterCount && h.columns == parameterCount,
                     "LinearModel.addHessian: shapes")
        var state = Matrix(rows: k, columns: n)
        try outputs(weights(y), inputs, 0..<n, into: &state)
        loss.prepare(&state, count: n)
        // Column l of every Λᵢ, by applying it to the unit vector e_l.
        var curvature = [Matrix]()
        for l in 0..<k {
            var unit = Matrix(rows: k, columns: n)
            for i in 0..<n { unit[l, i] = 1 }
            loss.curvatureProducts(state: state, &unit, count: n)
            curvature.append(unit)
        }
        var scaled = inputs
        var block = Matrix(rows: d, columns: d)
        for c in 0..<k {
            for l in c..<k {
                scaled.storage.withUnsafeMutableBufferPointer { a in
                    inputs.storage.withUnsafeBufferPointer { src in
                        for i in 0..<n {
                            let coefficient = coefficients[i] * curvature[l][c, i]
                            for j in (i * d)..<((i + 1) * d) { a[j] = src[j] * coefficient }
                        }
                    }
                }
                try BLAS.gemm(.none, .transpose, scaled, inputs, beta: 0, &block)
                for column in 0..<d {
                    for row in 0..<d {
                        h[c * d + row, l * d + column] += block[row, column]
                        if l != c { h[l * d + column, c * d + row] += block[row, column] }
                    }
                }
            }
        }
    }
}

extension LinearModel: ClassifierSampleLosses where Loss: ClassificationLoss {
    /// The fraction of samples whose predicted class is their target (0 for no samples).
    public func accuracy(at y: [Double]) throws -> Double {
        if sampleCount == 0 { return 0 }
        let w = weights(y)
        var z = outputScratch(sampleCount)
        var correct = 0
        try forEachSampleBlock(inputs, samples: nil) { block, columns, offset in
            try outputs(w, block, columns, into: &z)
            for j in 0..<columns.count where Double(loss.predictedClass(outputs: z, column: j)) == targets[offset + j] {
                correct += 1
            }
        }
        return Double(correct) / Double(sampleCount)
    }
}
