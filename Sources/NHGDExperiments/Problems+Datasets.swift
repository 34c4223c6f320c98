import NHGDBilevel
import NHGDLinearAlgebra

// The built-in problems built from `Dataset`s (features as columns, integer labels).

extension LinearModel where Loss == SoftmaxCrossEntropy {
    /// Softmax regression on a data set: its features as inputs, its labels as targets.
    public init(_ dataset: Dataset) throws {
        try self.init(inputs: dataset.features, targets: dataset.labels.map(Double.init),
                      loss: SoftmaxCrossEntropy(classCount: dataset.classCount))
    }
}

extension LinearModel where Loss == BinaryCrossEntropy {
    /// Logistic regression on a two-class data set (labels 0 and 1).
    /// - Throws: ``DataError/invalidValue(name:value:requirement:)`` unless it has two classes.
    public init(binary dataset: Dataset, role: String = "data") throws {
        guard dataset.classCount == 2 else {
            throw DataError.invalidValue(name: "\(role) classes", value: "\(dataset.classCount)",
                                         requirement: "exactly 2 (labels 0 and 1)")
        }
        try self.init(inputs: dataset.features, targets: dataset.labels.map(Double.init), loss: BinaryCrossEntropy())
    }
}

/// Throws unless the data sets agree in feature and class count.
func requireCompatible(_ training: Dataset, _ others: [(Dataset, String)], operation: String) throws {
    for (set, role) in others where set.featureCount != training.featureCount || set.classCount != training.classCount {
        throw DataError.dimensionMismatch(
            operation: operation, expected: "\(training.featureCount) features and \(training.classCount) classes",
            actual: "\(set.featureCount) features and \(set.classCount) classes in \(role)")
    }
}

extension HyperCleaning where Model == LinearModel<SoftmaxCrossEntropy> {
    /// Hyper-cleaning of softmax regression on prepared data sets (scaled, with a bias feature if
    /// wanted): p = d·K, one weight per training sample.
    /// - Throws: ``DataError`` for data sets that disagree in features or classes,
    ///   ``BilevelError`` for empty sets or a bad `l2`.
    public init(training: Dataset, corruption: LabelCorruption? = nil, validation: Dataset, test: Dataset? = nil,
                l2: Double) throws {
        try requireCompatible(training, [(validation, "validation")] + (test.map { [($0, "test")] } ?? []),
                              operation: "DataHyperCleaning.init")
        try self.init(training: LinearModel(training), changedLabels: corruption?.changed,
                      validation: LinearModel(validation), test: test.map(LinearModel.init), l2: l2)
    }
}

extension HyperCleaning where Model == TanhNetwork {
    /// Hyper-cleaning of a tanh network of hidden width h on prepared data sets (no bias
    /// feature: the network has its own biases).
    /// - Throws: as the softmax-regression initialiser, and for a width below 1.
    public init(training: Dataset, corruption: LabelCorruption? = nil, validation: Dataset, test: Dataset? = nil,
                hiddenWidth: Int, l2: Double, initializationSeed: UInt64 = 0) throws {
        try requireCompatible(training, [(validation, "validation")] + (test.map { [($0, "test")] } ?? []),
                              operation: "MLPHyperCleaning.init")
        func network(_ set: Dataset) throws -> TanhNetwork {
            try TanhNetwork(inputs: set.features, labels: set.labels, classCount: training.classCount,
                            hiddenWidth: hiddenWidth, initializationSeed: initializationSeed)
        }
        try self.init(training: network(training), changedLabels: corruption?.changed, validation: network(validation),
                      test: test.map(network), l2: l2)
    }
}

extension LogisticRegression {
    /// A problem on binary data sets (two classes, labels 0 and 1, equal feature counts).
    /// - Throws: ``DataError`` when a set has other than two classes or the feature counts
    ///   differ; ``BilevelError`` when the training or validation set is empty.
    public init(training: Dataset, validation: Dataset, test: Dataset? = nil) throws {
        for (set, role) in [(training, "training"), (validation, "validation")] + (test.map { [($0, "test")] } ?? []) {
            guard set.classCount == 2 else {
                throw DataError.invalidValue(name: "\(role) classes", value: "\(set.classCount)",
                                             requirement: "exactly 2 (labels 0 and 1)")
            }
        }
        try requireCompatible(training, [(validation, "validation")] + (test.map { [($0, "test")] } ?? []),
                              operation: "LogisticRegression.init")
        try self.init(trainingInputs: training.features, trainingLabels: training.labels.map(Double.init),
                      validationInputs: validation.features, validationLabels: validation.labels.map(Double.init),
                      testInputs: test?.features, testLabels: test?.labels.map(Double.init) ?? [])
    }
}
