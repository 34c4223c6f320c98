import Foundation
import NHGDLinearAlgebra

/// Binary logistic regression with one L2 strength per feature on sparse synthetic data, sized
/// for p = 10⁶–10⁷ parameters: the data take O(n·s + p) memory, never O(n·p).
///
/// The terms are those of ``LogisticRegression`` (ALGORITHMS.md §7) with sparse inputs
/// `aᵢ ∈ ℝ^p` holding s nonzeros each (``SparseLinearModel``); q = p:
///
/// ```
/// ℓᵢ(y) = log(1 + e^{aᵢᵀy}) − bᵢ aᵢᵀy,   ωᵢ = 1,   R(x, y) = ½ Σⱼ e^{xⱼ} yⱼ²
/// f(x, y) = (1/m) Σ_val ℓᵢ(y)   (unregularised validation log-loss),   ∇ₓf = 0
/// ```
///
/// **Data** (``make(p:n:m:nonzerosPerSample:using:)``): each sample has s features at distinct
/// uniformly random positions with values `N(0, 1/s)` (so `E‖aᵢ‖² = 1`). Labels come from a
/// planted parameter `y_true` that is nonzero on a random tenth of the features (at least one)
/// with entries `N(0, σ²)`, `σ = 2√(p/k)` for support size k, so that the true logit
/// `aᵢᵀy_true` has standard deviation 2 whatever p and s are; `bᵢ ~ Bernoulli(σ(aᵢᵀy_true))`.
///
/// Metrics: `validation_loss` (= f) and `validation_accuracy` (positive when `aᵢᵀy > 0`).
public struct SyntheticLogisticRegression: DenseHessianProblem {
    public let data: SparseLinearModel<BinaryCrossEntropy>
    public let outer: ValidationLoss<SparseLinearModel<BinaryCrossEntropy>>
    public var regularizer: PerFeatureL2 { PerFeatureL2() }
    /// The parameter the labels were drawn from (zeros when built from given data).
    public let generatingParameters: [Double]
    public var outerDimension: Int { data.parameterCount }

    /// A problem on given sparse data.
    /// - Throws: ``BilevelError`` when the feature counts differ, a set is empty, the label
    ///   counts differ from the sample counts, a label is not 0 or 1, or `generatingParameters`
    ///   (when given) has the wrong length.
    public init(training: SparseSamples, trainingLabels: [Double], validation: SparseSamples,
                validationLabels: [Double], generatingParameters: [Double]? = nil) throws {
        let operation = "SyntheticLogisticRegression.init"
        let p = training.featureCount
        guard validation.featureCount == p else {
            throw BilevelError.dimensionMismatch(operation: operation, expected: "\(p) validation features",
                                                 actual: "\(validation.featureCount)")
        }
        try requireNonEmpty(features: p, training: training.sampleCount, validation: validation.sampleCount)
        data = try SparseLinearModel(inputs: training, targets: trainingLabels, loss: BinaryCrossEntropy())
        outer = ValidationLoss(try SparseLinearModel(inputs: validation, targets: validationLabels, loss: BinaryCrossEntropy()))
        if let generatingParameters { try requireFiniteVector(generatingParameters, p, operation, "generatingParameters") }
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

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        try classificationMetrics(validation: outer.data, test: nil, at: y)
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
