import NHGDLinearAlgebra

/// Binary logistic regression with one L2 strength per feature (ALGORITHMS.md §7; the
/// "ijcnn1" benchmark of the bilevel literature): breast cancer (30 hyperparameters and a bias)
/// and MNIST pairs (785) in the command-line tool.
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
public struct LogisticRegression: DenseHessianProblem {
    public let data: LinearModel<BinaryCrossEntropy>
    public let outer: ValidationLoss<LinearModel<BinaryCrossEntropy>>
    public let test: LinearModel<BinaryCrossEntropy>?
    public var regularizer: PerFeatureL2 { PerFeatureL2() }
    public var outerDimension: Int { data.parameterCount }

    /// A problem on binary data (labels 0 and 1, inputs d × ·).
    /// - Throws: ``BilevelError`` when a label is not 0 or 1, the feature counts differ, a set
    ///   is empty or an input is not finite.
    public init(trainingInputs: Matrix, trainingLabels: [Double], validationInputs: Matrix, validationLabels: [Double],
                testInputs: Matrix? = nil, testLabels: [Double] = []) throws {
        let d = trainingInputs.rows
        try requireSameFeatures(d, [("validationInputs", validationInputs), ("testInputs", testInputs)],
                                "LogisticRegression.init")
        data = try LinearModel(inputs: trainingInputs, targets: trainingLabels, loss: BinaryCrossEntropy())
        outer = ValidationLoss(try LinearModel(inputs: validationInputs, targets: validationLabels, loss: BinaryCrossEntropy()))
        test = try testInputs.map { try LinearModel(inputs: $0, targets: testLabels, loss: BinaryCrossEntropy()) }
        try requireNonEmpty(features: d, training: data.sampleCount, validation: outer.data.sampleCount)
    }

    /// See the type's documentation for the keys.
    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        try classificationMetrics(validation: outer.data, test: test, at: y)
    }
}
