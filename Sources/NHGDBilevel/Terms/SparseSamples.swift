import NHGDLinearAlgebra

/// Samples as the rows of a sparse n × p matrix in compressed-sparse-row form: sample i has the
/// features `featureIndices[rowStarts[i]..<rowStarts[i + 1]]` (strictly increasing) with the
/// values at the same positions of `values`. Memory O(n·s + n) for s nonzeros per sample,
/// whatever p is.
public struct SparseSamples: Sendable, Equatable {
    /// p, the length of every sample vector.
    public let featureCount: Int
    /// n + 1 offsets into `featureIndices` and `values`, starting at 0.
    public let rowStarts: [Int]
    /// Feature positions, strictly increasing within each sample.
    public let featureIndices: [Int]
    /// Feature values.
    public let values: [Double]

    /// The number of samples.
    public var sampleCount: Int { rowStarts.count - 1 }

    /// - Throws: ``BilevelError`` unless `featureCount ≥ 1`, `rowStarts` starts at 0, never
    ///   decreases and ends at `featureIndices.count == values.count`, positions lie in
    ///   `0..<featureCount` and increase strictly within a sample, and values are finite.
    public init(featureCount: Int, rowStarts: [Int], featureIndices: [Int], values: [Double]) throws {
        let operation = "SparseSamples.init"
        guard featureCount >= 1 else {
            throw BilevelError.invalidHyperparameter(name: "featureCount", value: "\(featureCount)",
                                                     requirement: "at least 1")
        }
        guard let first = rowStarts.first, first == 0, rowStarts.last == featureIndices.count,
              values.count == featureIndices.count else {
            throw BilevelError.dimensionMismatch(
                operation: operation,
                expected: "rowStarts from 0 to \(featureIndices.count) and \(featureIndices.count) values",
                actual: "rowStarts \(rowStarts.first.map(String.init) ?? "empty")…\(rowStarts.last.map(String.init) ?? ""), \(values.count) values")
        }
        for i in 0..<(rowStarts.count - 1) {
            let (start, end) = (rowStarts[i], rowStarts[i + 1])
            guard start <= end, end <= featureIndices.count else {
                throw BilevelError.invalidHyperparameter(name: "rowStarts[\(i + 1)]", value: "\(end)",
                                                         requirement: "non-decreasing and at most \(featureIndices.count)")
            }
            for k in start..<end {
                let j = featureIndices[k]
                guard j >= 0, j < featureCount, k == start || featureIndices[k - 1] < j else {
                    throw BilevelError.invalidHyperparameter(
                        name: "featureIndices[\(k)] (sample \(i))", value: "\(j)",
                        requirement: "in 0..<\(featureCount) and increasing within the sample")
                }
            }
        }
        try requireAllFinite(values, operation, "values")
        self.featureCount = featureCount
        self.rowStarts = rowStarts
        self.featureIndices = featureIndices
        self.values = values
    }

    /// The samples as the columns of a dense p × n matrix (for tests and small p).
    /// - Complexity: O(p·n) memory.
    public func denseColumns() -> Matrix {
        var a = Matrix(rows: featureCount, columns: sampleCount)
        for i in 0..<sampleCount {
            for k in rowStarts[i]..<rowStarts[i + 1] { a[featureIndices[k], i] = values[k] }
        }
        return a
    }

    /// `aᵢᵀy` over the nonzeros of sample i.
    @inline(__always)
    func dot(_ i: Int, _ y: UnsafeBufferPointer<Double>) -> Double {
        featureIndices.withUnsafeBufferPointer { index in
            values.withUnsafeBufferPointer { value in
                var total = 0.0
                for k in rowStarts[i]..<rowStarts[i + 1] { total += value[k] * y[index[k]] }
                return total
            }
        }
    }

    /// `target[offset + ·] += alpha · aᵢ` over the nonzeros of sample i.
    @inline(__always)
    func scatter(_ i: Int, alpha: Double, into target: UnsafeMutableBufferPointer<Double>, offset: Int = 0) {
        featureIndices.withUnsafeBufferPointer { index in
            values.withUnsafeBufferPointer { value in
                for k in rowStarts[i]..<rowStarts[i + 1] { target[offset + index[k]] += alpha * value[k] }
            }
        }
    }
}

/// A one-output linear model on sparse inputs, `zᵢ = aᵢᵀy`, with a per-sample ``OutputLoss``
/// (``BinaryCrossEntropy`` for the synthetic logistic benchmark): the oracles of
/// ``LinearModel`` with K = 1, each costing O(s) per sample plus O(p) for the dense vectors it
/// writes. The combination `G C` is a scatter: column j is `Σᵢ C[i, j] ρᵢ aᵢ`, s·(nonzeros)
/// work after one zero fill of the p × s result; no p × b block.
public struct SparseLinearModel<Loss: OutputLoss>: DenseHessianSampleLosses, LikelihoodSampleLosses {
    /// The n samples, s nonzeros each (p features).
    public let inputs: SparseSamples
    /// One target per sample (0 or 1 for logistic regression).
    public let targets: [Double]
    /// The per-sample loss of the one output `aᵢᵀy`.
    public let loss: Loss

    /// p = the number of features (one weight each).
    public var parameterCount: Int { inputs.featureCount }
    public var sampleCount: Int { inputs.sampleCount }

    /// - Throws: ``BilevelError`` unless the loss has one output, there is one target per
    ///   sample and every target is one the loss accepts.
    public init(inputs: SparseSamples, targets: [Double], loss: Loss) throws {
        guard loss.outputCount == 1 else {
            throw BilevelError.invalidHyperparameter(name: "loss outputs", value: "\(loss.outputCount)",
                                                     requirement: "1 (a sparse model has one output)")
        }
        try loss.validate(targets: targets, count: inputs.sampleCount, operation: "SparseLinearModel.init")
        self.inputs = inputs
        self.targets = targets
        self.loss = loss
    }

    /// The outputs `aᵢᵀy` of `samples` as a 1 × b matrix, and their targets.
    private func outputs(_ y: [Double], _ samples: [Int]?) -> (z: Matrix, targets: [Double]) {
        let b = samples?.count ?? sampleCount
        var z = Matrix(rows: 1, columns: b)
        y.withUnsafeBufferPointer { yp in
            for j in 0..<b { z.storage[j] = inputs.dot(sampleIndex(samples, j), yp) }
        }
        return (z, (0..<b).map { targets[sampleIndex(samples, $0)] })
    }

    public func losses(at y: [Double], samples: [Int]?) throws -> [Double] {
        let (z, t) = outputs(y, samples)
        return loss.losses(outputs: z, count: z.columns, targets: t)
    }

    /// - Complexity: O(p·s) to zero the result plus O(s·nonzeros) for the scatter.
    public func gradientCombinations(
        at y: [Double], samples: [Int]?, coefficients: Matrix, sampledLabelColumns: Range<Int>,
        using rng: inout Xoshiro256StarStar, into result: inout Matrix
    ) throws {
        let p = parameterCount, s = coefficients.columns
        precondition(coefficients.rows == (samples?.count ?? sampleCount) && result.rows == p && result.columns == s,
                     "SparseLinearModel.gradientCombinations: shapes")
        var (residual, t) = outputs(y, samples)
        let b = residual.columns
        loss.prepare(&residual, count: b)
        var sampled = residual
        if !sampledLabelColumns.isEmpty { loss.sampledResiduals(&sampled, count: b, using: &rng) }
        loss.residuals(&residual, count: b, targets: t)
        result.storage.withUnsafeMutableBufferPointer { out in
            out.update(repeating: 0)
            for j in 0..<s {
                let rho = sampledLabelColumns.contains(j) ? sampled : residual
                for i in 0..<b {
                    let alpha = coefficients[i, j] * rho.storage[i]
                    if alpha != 0 { inputs.scatter(sampleIndex(samples, i), alpha: alpha, into: out, offset: j * p) }
                }
            }
        }
    }

    public func gradientProjections(at y: [Double], along u: [Double], samples: [Int]?) throws -> [Double] {
        var (residual, t) = outputs(y, samples)
        let b = residual.columns
        loss.prepare(&residual, count: b)
        loss.residuals(&residual, count: b, targets: t)
        return u.withUnsafeBufferPointer { up in
            (0..<b).map { j in residual.storage[j] * inputs.dot(sampleIndex(samples, j), up) }
        }
    }

    /// `Σᵢ cᵢ Λᵢ (aᵢᵀv) aᵢ`: two sparse dots and one scatter per sample.
    public func hessianVectorProduct(at y: [Double], v: [Double], samples: [Int]?, coefficients: [Double],
                                     into result: inout [Double]) throws {
        var (state, _) = outputs(y, samples)
        let b = state.columns
        precondition(coefficients.count == b && result.count == parameterCount, "SparseLinearModel.hessianVectorProduct: shapes")
        loss.prepare(&state, count: b)
        var along = Matrix(rows: 1, columns: b)
        v.withUnsafeBufferPointer { vp in
            for j in 0..<b { along.storage[j] = inputs.dot(sampleIndex(samples, j), vp) }
        }
        loss.curvatureProducts(state: state, &along, count: b)
        result.withUnsafeMutableBufferPointer { out in
            out.update(repeating: 0)
            for j in 0..<b {
                inputs.scatter(sampleIndex(samples, j), alpha: coefficients[j] * along.storage[j], into: out)
            }
        }
    }

    /// `h += Σᵢ cᵢ Λᵢ aᵢaᵢᵀ`, accumulated over the s² pairs of each sample's nonzeros.
    /// - Complexity: O(n·s²).
    public func addHessian(at y: [Double], coefficients: [Double], to h: inout Matrix) throws {
        let n = sampleCount
        precondition(coefficients.count == n && h.rows == parameterCount && h.columns == parameterCount,
                     "SparseLinearModel.addHessian: shapes")
        var (state, _) = outputs(y, nil)
        loss.prepare(&state, count: n)
        var curvature = Matrix(rows: 1, columns: n, repeating: 1)
        loss.curvatureProducts(state: state, &curvature, count: n)
        for i in 0..<n {
            let weight = coefficients[i] * curvature.storage[i]
            let range = inputs.rowStarts[i]..<inputs.rowStarts[i + 1]
            for k in range {
                let (row, a) = (inputs.featureIndices[k], inputs.values[k])
                for l in range { h[row, inputs.featureIndices[l]] += weight * a * inputs.values[l] }
            }
        }
    }
}

extension SparseLinearModel: ClassifierSampleLosses where Loss: ClassificationLoss {
    public func accuracy(at y: [Double]) throws -> Double {
        if sampleCount == 0 { return 0 }
        let (z, t) = outputs(y, nil)
        let correct = (0..<sampleCount).filter { Double(loss.predictedClass(outputs: z, column: $0)) == t[$0] }.count
        return Double(correct) / Double(sampleCount)
    }
}
