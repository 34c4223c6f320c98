import NHGDLinearAlgebra

/// Data hyper-cleaning (ALGORITHMS.md §7): learn one weight `σ(xᵢ)` per training sample so
/// that a classifier trained on the weighted, partly mislabelled training set does well on a
/// clean validation set.
///
/// ```
/// g(x, y) = (1/n) Σᵢ σ(xᵢ) ℓᵢ(y) + c ‖y‖²      (ωᵢ = σ(xᵢ), R = c‖y‖², ∇²R = 2c I; q = n)
/// (J u)ᵢ = (1/n) σ'(xᵢ) gᵢᵀu
/// f(x, y) = (1/m) Σ_val ℓⱼ(y)                   (clean validation cross-entropy; ∇ₓf = 0)
/// ```
///
/// The model is any classifier data term: ``DataHyperCleaning`` is softmax regression
/// (``LinearModel`` with ``SoftmaxCrossEntropy``, p = d·K), ``MLPHyperCleaning`` a tanh network
/// (``TanhNetwork``, p ≈ 10⁵–10⁶).
///
/// Metrics: `validation_loss` (= f), `validation_accuracy`, `test_loss` and `test_accuracy`
/// (with a test set), and, when it is known which training labels changed and both groups are
/// non-empty, `auroc` (of the score `1 − σ(xᵢ)` for "label was changed"),
/// `mean_weight_clean` and `mean_weight_corrupted` (the mean `σ(xᵢ)` over each group).
public struct HyperCleaning<Model: ClassifierSampleLosses>: BilevelProblem {
    /// The (corrupted) training set.
    public let data: Model
    /// The clean validation cross-entropy.
    public let outer: ValidationLoss<Model>
    /// The test set, if any.
    public let test: Model?
    /// `c‖y‖²`.
    public let regularizer: ScalarL2
    /// `σ(xᵢ)`.
    public var weighting: SigmoidWeights { SigmoidWeights() }
    /// `changedLabels[i]`: the training label of sample i is not its true label (for the
    /// AUROC metric), when known.
    public let changedLabels: [Bool]?

    public var outerDimension: Int { data.sampleCount }

    /// - Parameters:
    ///   - training: the (corrupted) training samples.
    ///   - changedLabels: which training labels differ from the truth (length n), if known.
    ///   - validation: the clean validation samples; `test`: optional test samples.
    ///   - l2: c ≥ 0 (the inner problem of a linear model is strongly convex only for c > 0).
    /// - Throws: ``BilevelError`` when the parts differ in their parameter count, the training
    ///   or validation set is empty, `l2` is negative or not finite, or `changedLabels` does not
    ///   have one entry per training sample.
    public init(training: Model, changedLabels: [Bool]? = nil, validation: Model, test: Model? = nil, l2: Double) throws {
        let operation = "HyperCleaning.init"
        for (part, role) in [(validation, "validation")] + (test.map { [($0, "test")] } ?? []) where
            part.parameterCount != training.parameterCount {
            throw BilevelError.dimensionMismatch(operation: operation, expected: "\(training.parameterCount) parameters",
                                                 actual: "\(part.parameterCount) in the \(role) model")
        }
        guard training.sampleCount >= 1, validation.sampleCount >= 1 else {
            throw BilevelError.invalidHyperparameter(
                name: "data", value: "n = \(training.sampleCount), m = \(validation.sampleCount)",
                requirement: "at least one training and one validation sample")
        }
        if let changedLabels, changedLabels.count != training.sampleCount {
            throw BilevelError.dimensionMismatch(operation: operation,
                                                 expected: "changedLabels for \(training.sampleCount) samples",
                                                 actual: "\(changedLabels.count)")
        }
        regularizer = try ScalarL2(coefficient: l2)
        data = training
        outer = ValidationLoss(validation)
        self.test = test
        self.changedLabels = changedLabels
    }

    /// c of `R = c‖y‖²`.
    public var l2: Double { regularizer.coefficient }

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        var result = try classificationMetrics(validation: outer.data, test: test, at: y)
        let n = x.count
        if let changed = changedLabels {
            let changedCount = changed.lazy.filter { $0 }.count
            if changedCount > 0, changedCount < n {
                let weights = x.map(logistic)
                result["auroc"] = try auroc(scores: weights.map { 1 - $0 }, labels: changed)
                var clean = 0.0, corrupted = 0.0
                for i in 0..<n {
                    if changed[i] { corrupted += weights[i] } else { clean += weights[i] }
                }
                result["mean_weight_corrupted"] = corrupted / Double(changedCount)
                result["mean_weight_clean"] = clean / Double(n - changedCount)
            }
        }
        return result
    }
}

extension HyperCleaning: SecondOrderBilevelProblem where Model: SecondOrderSampleLosses {}
extension HyperCleaning: DenseHessianProblem where Model: DenseHessianSampleLosses {}

/// Hyper-cleaning of softmax regression: inputs `aᵢ ∈ ℝ^d` (a bias feature included if wanted),
/// `Y ∈ ℝ^{d×K}`, p = d·K, `πᵢ = softmax(Yᵀaᵢ)`, `gᵢ = (πᵢ − e_{bᵢ}) ⊗ aᵢ`.
public typealias DataHyperCleaning = HyperCleaning<LinearModel<SoftmaxCrossEntropy>>

/// Hyper-cleaning of a one-hidden-layer tanh network (``TanhNetwork``).
public typealias MLPHyperCleaning = HyperCleaning<TanhNetwork>
