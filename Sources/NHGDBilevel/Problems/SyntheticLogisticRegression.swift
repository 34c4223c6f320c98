import Foundation
import NHGDLinearAlgebra

/// Binary logistic regression with one L2 strength per feature on sparse synthetic data, sized
/// for p = 10⁶–10⁷ parameters: the data take O(n·s + p) memory, never O(n·p).
///
/// The oracles are those of ``LogisticRegression`` (ALGORITHMS.md §7) with sparse inputs
/// `aᵢ ∈ ℝ^p` holding s nonzeros each; q = p:
///
/// ```
/// ℓᵢ(y) = log(1 + e^{aᵢᵀy}) − bᵢ aᵢᵀy,   ωᵢ = 1,   R(x, y) = ½ Σⱼ e^{xⱼ} yⱼ²
/// gᵢ = (πᵢ − bᵢ) aᵢ,   H = (1/n) Σ πᵢ(1 − πᵢ) aᵢaᵢᵀ + diag(e^x),   J u = e^x ⊙ y ⊙ u
/// f(x, y) = (1/m) Σ_val ℓᵢ(y)   (unregularised validation log-loss),   ∇ₓf = 0
/// ```
///
/// with `πᵢ = σ(aᵢᵀy)`. **Data** (``make(p:n:m:nonzerosPerSample:using:)``): each sample has s
/// features at distinct uniformly random positions with values `N(0, 1/s)` (so `E‖aᵢ‖² = 1`),
/// stored as compressed sparse rows (``SparseSamples``). Labels come from a planted parameter
/// `y_true` that is nonzero on a random tenth of the features (at least one) with entries
/// `N(0, σ²)`, `σ = 2√(p/k)` for support size k, so that the true logit `aᵢᵀy_true` has
/// standard deviation 2 whatever p and s are; `bᵢ ~ Bernoulli(σ(aᵢᵀy_true))`.
///
/// Metrics: `validation_loss` (= f) and `validation_accuracy` (positive when `aᵢᵀy > 0`).
///
/// Every per-sample and Hessian-vector oracle costs O(s) per sample plus O(p) for the dense
/// vectors it reads or writes; the dense Hessian (``hessian(x:y:)``) is available only up to
/// ``maxDenseDimension``.
public struct SyntheticLogisticRegression: DenseHessianProblem, PerSampleLossProblem {
    /// Samples as the rows of a sparse n × p matrix in compressed-sparse-row form: sample i has
    /// the features `featureIndices[rowStarts[i]..<rowStarts[i + 1]]` (strictly increasing) with
    /// the values at the same positions of `values`.
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
            let op = "SyntheticLogisticRegression.SparseSamples"
            guard featureCount >= 1 else {
                throw BilevelError.invalidHyperparameter(name: "featureCount", value: "\(featureCount)",
                                                         requirement: "at least 1")
            }
            guard let first = rowStarts.first, first == 0, rowStarts.last == featureIndices.count,
                  values.count == featureIndices.count else {
                throw BilevelError.dimensionMismatch(
                    operation: op, expected: "rowStarts from 0 to \(featureIndices.count) and \(featureIndices.count) values",
                    actual: "rowStarts \(rowStarts.first.map(String.init) ?? "empty")…\(rowStarts.last.map(String.init) ?? ""), \(values.count) values")
            }
            for i in 0..<(rowStarts.count - 1) {
                let (start, end) = (rowStarts[i], rowStarts[i + 1])
                guard start <= end, end <= featureIndices.count else {
                    throw BilevelError.data(file: op, reason: "rowStarts decreases or overruns at sample \(i)")
                }
                for k in start..<end {
                    let j = featureIndices[k]
                    guard j >= 0, j < featureCount, k == start || featureIndices[k - 1] < j else {
                        throw BilevelError.data(
                            file: op, reason: "sample \(i): feature position \(j) out of 0..<\(featureCount) or not increasing")
                    }
                }
            }
            try requireAllFinite(values, op, "values")
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

        /// `(1/n) Σᵢ ℓᵢ(y)` over all samples, with labels `labels`.
        func meanLogLoss(_ labels: [Double], _ y: [Double]) -> Double {
            if sampleCount == 0 { return 0 }
            return y.withUnsafeBufferPointer { yp in
                var total = 0.0
                for i in 0..<sampleCount {
                    let z = dot(i, yp)
                    total += softplus(z) - labels[i] * z
                }
                return total / Double(sampleCount)
            }
        }
    }

    /// Training samples (n rows of length p).
    public let training: SparseSamples
    /// Training labels in {0, 1}.
    public let trainingLabels: [Double]
    /// Validation samples (m rows of length p).
    public let validation: SparseSamples
    /// Validation labels in {0, 1}.
    public let validationLabels: [Double]
    /// The parameter the labels were drawn from (zeros when built from given data).
    public let generatingParameters: [Double]

    /// The largest p for which ``hessian(x:y:)`` forms the dense p × p Hessian (128 MiB).
    public static let maxDenseDimension = 4096

    public var innerDimension: Int { training.featureCount }
    public var outerDimension: Int { training.featureCount }
    public var trainingCount: Int { training.sampleCount }
    public var validationCount: Int { validation.sampleCount }

    /// A problem on given sparse data.
    /// - Throws: ``BilevelError`` when the feature counts differ, a set is empty, the label
    ///   counts differ from the sample counts, a label is not 0 or 1, or `generatingParameters`
    ///   (when given) has the wrong length.
    public init(training: SparseSamples, trainingLabels: [Double], validation: SparseSamples,
                validationLabels: [Double], generatingParameters: [Double]? = nil) throws {
        let op = "SyntheticLogisticRegression.init"
        let p = training.featureCount
        guard validation.featureCount == p else {
            throw BilevelError.dimensionMismatch(operation: op, expected: "\(p) validation features",
                                                 actual: "\(validation.featureCount)")
        }
        guard training.sampleCount >= 1, validation.sampleCount >= 1 else {
            throw BilevelError.invalidHyperparameter(
                name: "data", value: "n = \(training.sampleCount), m = \(validation.sampleCount)",
                requirement: "at least one training and one validation sample")
        }
        try requireCount(trainingLabels, training.sampleCount, op, "trainingLabels")
        try requireCount(validationLabels, validation.sampleCount, op, "validationLabels")
        if let bad = (trainingLabels + validationLabels).first(where: { $0 != 0 && $0 != 1 }) {
            throw BilevelError.invalidHyperparameter(name: "label", value: "\(bad)", requirement: "0 or 1")
        }
        if let generatingParameters { try requireFiniteVector(generatingParameters, p, op, "generatingParameters") }
        self.training = training
        self.trainingLabels = trainingLabels
        self.validation = validation
        self.validationLabels = validationLabels
        self.generatingParameters = generatingParameters ?? [Double](repeating: 0, count: p)
    }

    /// A random problem as described in the type's documentation: p features, n training and m
    /// validation samples with `nonzerosPerSample` features each.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)`` unless
    ///   p, n, m ≥ 1 and 1 ≤ nonzerosPerSample ≤ p.
    /// - Complexity: O((n + m)·s·log s + p) time, O((n + m)·s + p) memory.
    public static func make(
        p: Int, n: Int, m: Int, nonzerosPerSample s: Int, using rng: inout some RandomNumberGenerator
    ) throws -> SyntheticLogisticRegression {
        guard p >= 1, n >= 1, m >= 1, s >= 1, s <= p else {
            throw BilevelError.invalidHyperparameter(
                name: "synthetic sizes", value: "p = \(p), n = \(n), m = \(m), nonzerosPerSample = \(s)",
                requirement: "p, n, m ≥ 1 and 1 ≤ nonzerosPerSample ≤ p")
        }
        let support = distinctSortedIndices(count: max(1, p / 10), from: p, using: &rng)
        let sigma = 2 * (Double(p) / Double(support.count)).squareRoot()
        var truth = [Double](repeating: 0, count: p)
        for j in support { truth[j] = sigma * rng.nextGaussian() }
        let valueScale = 1 / Double(s).squareRoot()
        func draw(_ count: Int) throws -> (SparseSamples, [Double]) {
            var starts = [Int](repeating: 0, count: count + 1)
            var indices = [Int](), values = [Double]()
            indices.reserveCapacity(count * s)
            values.reserveCapacity(count * s)
            var labels = [Double](repeating: 0, count: count)
            for i in 0..<count {
                var logit = 0.0
                for j in distinctSortedIndices(count: s, from: p, using: &rng) {
                    let value = valueScale * rng.nextGaussian()
                    indices.append(j)
                    values.append(value)
                    logit += value * truth[j]
                }
                starts[i + 1] = indices.count
                labels[i] = Double.random(in: 0..<1, using: &rng) < logistic(logit) ? 1 : 0
            }
            return (try SparseSamples(featureCount: p, rowStarts: starts, featureIndices: indices, values: values),
                    labels)
        }
        let (a, b) = try draw(n), (av, bv) = try draw(m)
        return try SyntheticLogisticRegression(training: a, trainingLabels: b, validation: av, validationLabels: bv,
                                               generatingParameters: truth)
    }

    public func initialOuter() -> [Double] { [Double](repeating: 0, count: outerDimension) }
    public func initialInner() -> [Double] { [Double](repeating: 0, count: innerDimension) }

    /// `gᵢ = (σ(aᵢᵀy) − bᵢ) aᵢ` into the columns of `gradients` (each column zeroed, then the s
    /// nonzeros scattered); all weights 1.
    /// - Complexity: O(p·b) to zero the block (memory-bound) plus O(s·b).
    public func perSampleGradients(
        x: [Double], y: [Double], samples: [Int], into gradients: inout Matrix, weights: inout [Double]
    ) throws {
        let op = "SyntheticLogisticRegression.perSampleGradients"
        try check(x, y, op)
        try requireSamples(samples, trainingCount)
        let p = innerDimension, b = samples.count
        try requireGradientBlock(gradients, weights, p: p, b: b, op)
        y.withUnsafeBufferPointer { yp in
            gradients.storage.withUnsafeMutableBufferPointer { g in
                for (j, i) in samples.enumerated() {
                    let column = UnsafeMutableBufferPointer(rebasing: g[(j * p)..<((j + 1) * p)])
                    column.update(repeating: 0)
                    let coefficient = logistic(training.dot(i, yp)) - trainingLabels[i]
                    training.scatter(i, alpha: coefficient, into: g, offset: j * p)
                }
            }
        }
        for j in 0..<b { weights[j] = 1 }
    }

    /// `ℓᵢ(y) = log(1 + e^{zᵢ}) − bᵢ zᵢ`, `zᵢ = aᵢᵀy`.
    public func perSampleLosses(y: [Double], samples: [Int]) throws -> [Double] {
        try requireFiniteVector(y, innerDimension, "SyntheticLogisticRegression.perSampleLosses", "y")
        try requireSamples(samples, trainingCount)
        return y.withUnsafeBufferPointer { yp in
            samples.map { i in
                let z = training.dot(i, yp)
                return softplus(z) - trainingLabels[i] * z
            }
        }
    }

    /// `R = ½ Σ e^{xⱼ} yⱼ²`.
    public func regularizerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "SyntheticLogisticRegression.regularizerValue")
        return PerFeatureL2.value(x: x, y: y)
    }

    /// `∇_y R = e^x ⊙ y`.
    public func regularizerGradient(x: [Double], y: [Double], into gradient: inout [Double]) throws {
        try check(x, y, "SyntheticLogisticRegression.regularizerGradient")
        try requireCount(gradient, innerDimension, "SyntheticLogisticRegression.regularizerGradient", "gradient")
        PerFeatureL2.gradient(x: x, y: y, into: &gradient)
    }

    /// `diag ∇²_yy R = e^x`.
    public func regularizerCurvature(x: [Double], y: [Double]) throws -> [Double] {
        try check(x, y, "SyntheticLogisticRegression.regularizerCurvature")
        return PerFeatureL2.curvature(x: x)
    }

    /// `J u = e^x ⊙ y ⊙ u`.
    public func crossProduct(x: [Double], y: [Double], u: [Double]) throws -> [Double] {
        try check(x, y, "SyntheticLogisticRegression.crossProduct")
        try requireFiniteVector(u, innerDimension, "SyntheticLogisticRegression.crossProduct", "u")
        return PerFeatureL2.crossProduct(x: x, y: y, u: u)
    }

    /// `g = (1/n) Σ ℓᵢ(y) + R(x, y)`.
    /// - Complexity: O(n·s + p).
    public func innerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "SyntheticLogisticRegression.innerValue")
        return try training.meanLogLoss(trainingLabels, y) + regularizerValue(x: x, y: y)
    }

    /// `f = (1/m) Σ_val ℓᵢ(y)`.
    public func outerValue(x: [Double], y: [Double]) throws -> Double {
        try check(x, y, "SyntheticLogisticRegression.outerValue")
        return validation.meanLogLoss(validationLabels, y)
    }

    /// `∇_x f = 0`, `∇_y f = (1/m) Σ_val (πᵢ − bᵢ) aᵢ`.
    /// - Complexity: O(m·s + p).
    public func outerGradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        try check(x, y, "SyntheticLogisticRegression.outerGradients")
        var gradient = [Double](repeating: 0, count: innerDimension)
        let scale = 1 / Double(validationCount)
        y.withUnsafeBufferPointer { yp in
            gradient.withUnsafeMutableBufferPointer { g in
                for i in 0..<validationCount {
                    let residual = logistic(validation.dot(i, yp)) - validationLabels[i]
                    validation.scatter(i, alpha: scale * residual, into: g)
                }
            }
        }
        return ([Double](repeating: 0, count: outerDimension), gradient)
    }

    /// `H v = (1/|B|) Σ_{i∈B} πᵢ(1 − πᵢ)(aᵢᵀv) aᵢ + e^x ⊙ v` (all n samples when `samples` is nil).
    /// - Complexity: O(|B|·s + p): two sparse dots and one scatter per sample.
    public func hessianVectorProduct(
        x: [Double], y: [Double], v: [Double], samples: [Int]?, into result: inout [Double]
    ) throws {
        let op = "SyntheticLogisticRegression.hessianVectorProduct"
        try check(x, y, op)
        try requireFiniteVector(v, innerDimension, op, "v")
        try requireCount(result, innerDimension, op, "result")
        if let samples { try requireSamples(samples, trainingCount) }
        let count = samples?.count ?? trainingCount
        var product = [Double](repeating: 0, count: innerDimension)
        PerFeatureL2.addCurvatureProduct(x: x, v: v, to: &product)
        if count > 0 {
            let scale = 1 / Double(count)
            y.withUnsafeBufferPointer { yp in
                v.withUnsafeBufferPointer { vp in
                    product.withUnsafeMutableBufferPointer { out in
                        func add(_ i: Int) {
                            let pi = logistic(training.dot(i, yp))
                            training.scatter(i, alpha: scale * pi * (1 - pi) * training.dot(i, vp), into: out)
                        }
                        if let samples { for i in samples { add(i) } } else { for i in 0..<count { add(i) } }
                    }
                }
            }
        }
        result = product
    }

    /// The dense Hessian `(1/n) Σ πᵢ(1 − πᵢ) aᵢaᵢᵀ + diag(e^x)`, accumulated over the s² pairs of
    /// each sample's nonzeros.
    /// - Throws: ``BilevelError/exceedsMemoryBudget(method:bytesNeeded:bytesAllowed:)`` when
    ///   p > ``maxDenseDimension``.
    /// - Complexity: O(n·s² + p²).
    public func hessian(x: [Double], y: [Double]) throws -> Matrix {
        let op = "SyntheticLogisticRegression.hessian"
        let p = innerDimension, limit = Self.maxDenseDimension
        guard p <= limit else {
            throw BilevelError.exceedsMemoryBudget(method: op, bytesNeeded: p * p * 8, bytesAllowed: limit * limit * 8)
        }
        try check(x, y, op)
        var h = Matrix(rows: p, columns: p)
        let scale = 1 / Double(trainingCount)
        y.withUnsafeBufferPointer { yp in
            for i in 0..<trainingCount {
                let pi = logistic(training.dot(i, yp))
                let weight = scale * pi * (1 - pi)
                let range = training.rowStarts[i]..<training.rowStarts[i + 1]
                for k in range {
                    let (row, a) = (training.featureIndices[k], training.values[k])
                    for l in range { h[row, training.featureIndices[l]] += weight * a * training.values[l] }
                }
            }
        }
        PerFeatureL2.addCurvature(x: x, to: &h)
        return h
    }

    /// The inner solution `y*(x)` by damped Newton on the dense Hessian (p ≤ ``maxDenseDimension``),
    /// from `start` (zeros by default), stopped when `‖∇_y g‖ ≤ tolerance`.
    /// - Throws: as ``hessian(x:y:)``, or ``BilevelError/invalidHyperparameter(name:value:requirement:)``
    ///   if Newton does not converge within `maxIterations`.
    public func innerSolution(x: [Double], start: [Double]? = nil, tolerance: Double = 1e-12,
                              maxIterations: Int = 100) throws -> [Double] {
        try newtonInnerSolve(self, x: x, start: start ?? initialInner(), tolerance: tolerance,
                             maxIterations: maxIterations)
    }

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        try check(x, y, "SyntheticLogisticRegression.metrics")
        let correct = y.withUnsafeBufferPointer { yp in
            (0..<validationCount).reduce(0) { count, i in
                count + ((validation.dot(i, yp) > 0 ? 1.0 : 0.0) == validationLabels[i] ? 1 : 0)
            }
        }
        return ["validation_loss": validation.meanLogLoss(validationLabels, y),
                "validation_accuracy": Double(correct) / Double(validationCount)]
    }
}

/// `count` distinct indices drawn uniformly from `0..<n`, sorted (Floyd's algorithm: O(count)
/// expected time and memory, whatever n is).
func distinctSortedIndices(count: Int, from n: Int, using rng: inout some RandomNumberGenerator) -> [Int] {
    precondition(count >= 0 && count <= n, "distinctSortedIndices: count \(count) not in 0...\(n)")
    var chosen = Set<Int>(minimumCapacity: count)
    for upper in (n - count)..<n {
        let t = Int.random(in: 0...upper, using: &rng)
        chosen.insert(chosen.contains(t) ? upper : t)
    }
    return chosen.sorted()
}
