import NHGDBilevel
import NHGDLinearAlgebra

// The experiments of the command-line tool and the benchmarks, as one recipe each:
// split (stratified, seeded) → scale or standardise → corrupt → problem.

/// A hyper-cleaning problem with the record of what its corruption did: what the reference
/// models (``CleaningReferences``) need beyond the problem.
public struct CleaningExperiment<Model: ClassifierSampleLosses>: Sendable {
    public let problem: HyperCleaning<Model>
    public let corruption: LabelCorruption

    public init(problem: HyperCleaning<Model>, corruption: LabelCorruption) {
        self.problem = problem
        self.corruption = corruption
    }

    /// The four reference models at the learned weights, trained by `solver`.
    public func references(learnedOuter x: [Double], solver: InnerSolver) throws -> CleaningReferences {
        try CleaningReferences(problem, learnedOuter: x, corruption: corruption, solver: solver)
    }
}

/// The stratified seeded split of `dataset` and its training part with a fraction of the labels
/// replaced at random.
private func splitAndCorrupt(
    _ dataset: Dataset, _ trainCount: Int, _ validationCount: Int, _ testCount: Int, _ fraction: Double,
    using rng: inout some RandomNumberGenerator
) throws -> (parts: DatasetSplit, corrupted: Dataset, record: LabelCorruption) {
    let parts = try dataset.split(trainCount: trainCount, validationCount: validationCount, testCount: testCount,
                                  stratified: true, using: &rng)
    let (corrupted, record) = try parts.training.corruptingLabels(fraction: fraction, using: &rng)
    return (parts, corrupted, record)
}

extension CleaningExperiment where Model == LinearModel<SoftmaxCrossEntropy> {
    /// The standard MNIST experiment: MNIST-5k pixels scaled to [0, 1] with a bias feature
    /// (d = 785, K = 10, p = 7,850), a stratified seeded split, and a fraction of the training
    /// labels replaced by uniformly random ones.
    /// - Throws: data-loading errors, or ``DataError`` for sizes beyond the 5,000 samples.
    public static func mnist(
        trainCount: Int = 2000, validationCount: Int = 1000, testCount: Int = 2000,
        corruptionFraction: Double = 0.5, l2: Double = 1e-3, bias: Bool = true,
        using rng: inout some RandomNumberGenerator
    ) throws -> Self {
        var data = try Dataset.mnist5k().scaled(by: 1.0 / 255)
        if bias { data = data.withBiasFeature() }
        return try make(from: data, trainCount: trainCount, validationCount: validationCount, testCount: testCount,
                        corruptionFraction: corruptionFraction, l2: l2, using: &rng)
    }

    /// Splits a prepared `dataset` (stratified, seeded), corrupts the training labels and
    /// builds the problem.
    public static func make(
        from dataset: Dataset, trainCount: Int, validationCount: Int, testCount: Int,
        corruptionFraction: Double, l2: Double, using rng: inout some RandomNumberGenerator
    ) throws -> Self {
        let (parts, corrupted, record) = try splitAndCorrupt(dataset, trainCount, validationCount, testCount,
                                                             corruptionFraction, using: &rng)
        return Self(problem: try DataHyperCleaning(training: corrupted, corruption: record, validation: parts.validation,
                                                   test: testCount > 0 ? parts.test : nil, l2: l2),
                    corruption: record)
    }

    /// A user's data set for cleaning: split (seeded), standardised on the training part, a
    /// bias feature appended, a fraction of the training labels corrupted.
    public static func standardized(
        _ dataset: Dataset, trainCount: Int, validationCount: Int, testCount: Int, corruptionFraction: Double,
        l2: Double, using rng: inout some RandomNumberGenerator
    ) throws -> Self {
        let parts = try standardizedParts(dataset, trainCount, validationCount, testCount, corruptionFraction,
                                          bias: true, using: &rng)
        return Self(problem: try DataHyperCleaning(training: parts.training, corruption: parts.record,
                                                   validation: parts.validation, test: parts.test, l2: l2),
                    corruption: parts.record)
    }
}

/// The seeded split of a user's data set, standardised on its training part (a bias feature
/// appended when `bias`), with a fraction of the training labels corrupted.
private func standardizedParts(
    _ dataset: Dataset, _ trainCount: Int, _ validationCount: Int, _ testCount: Int, _ fraction: Double, bias: Bool,
    using rng: inout some RandomNumberGenerator
) throws -> (training: Dataset, record: LabelCorruption, validation: Dataset, test: Dataset?) {
    let parts = try dataset.split(trainCount: trainCount, validationCount: validationCount, testCount: testCount,
                                  using: &rng)
    let scaler = try Standardization(fittedTo: parts.training)
    func prepared(_ part: Dataset) throws -> Dataset {
        let scaled = try scaler.apply(to: part)
        return bias ? scaled.withBiasFeature() : scaled
    }
    let (corrupted, record) = try prepared(parts.training).corruptingLabels(fraction: fraction, using: &rng)
    return (corrupted, record, try prepared(parts.validation), testCount > 0 ? try prepared(parts.test) : nil)
}

extension CleaningExperiment where Model == TanhNetwork {
    /// MNIST-5k pixels scaled to [0, 1] (d = 784, K = 10), a stratified seeded split, and a
    /// fraction of the training labels replaced by uniformly random ones; the initial weights are
    /// seeded from `rng` too.
    /// - Throws: data-loading errors, or ``DataError`` for sizes beyond the 5,000 samples.
    public static func mnist(
        hiddenWidth: Int, trainCount: Int = 2000, validationCount: Int = 1000, testCount: Int = 2000,
        corruptionFraction: Double = 0.5, l2: Double = 1e-3, using rng: inout some RandomNumberGenerator
    ) throws -> Self {
        let data = try Dataset.mnist5k().scaled(by: 1.0 / 255)
        return try make(from: data, hiddenWidth: hiddenWidth, trainCount: trainCount, validationCount: validationCount,
                        testCount: testCount, corruptionFraction: corruptionFraction, l2: l2, using: &rng)
    }

    /// Splits a prepared `dataset` (stratified, seeded), corrupts the training labels and
    /// builds the network problem (initial weights seeded from `rng`).
    public static func make(
        from dataset: Dataset, hiddenWidth: Int, trainCount: Int, validationCount: Int, testCount: Int,
        corruptionFraction: Double, l2: Double, using rng: inout some RandomNumberGenerator
    ) throws -> Self {
        let (parts, corrupted, record) = try splitAndCorrupt(dataset, trainCount, validationCount, testCount,
                                                             corruptionFraction, using: &rng)
        return Self(problem: try MLPHyperCleaning(training: corrupted, corruption: record, validation: parts.validation,
                                                  test: testCount > 0 ? parts.test : nil, hiddenWidth: hiddenWidth,
                                                  l2: l2, initializationSeed: rng.next()),
                    corruption: record)
    }

    /// A user's data set for cleaning with the network: split (seeded), standardised on the
    /// training part (the network has its own biases), a fraction of the training labels
    /// corrupted; the initial weights are seeded from `rng` too.
    public static func standardized(
        _ dataset: Dataset, hiddenWidth: Int, trainCount: Int, validationCount: Int, testCount: Int,
        corruptionFraction: Double, l2: Double, using rng: inout some RandomNumberGenerator
    ) throws -> Self {
        let parts = try standardizedParts(dataset, trainCount, validationCount, testCount, corruptionFraction,
                                          bias: false, using: &rng)
        return Self(problem: try MLPHyperCleaning(training: parts.training, corruption: parts.record,
                                                  validation: parts.validation, test: parts.test,
                                                  hiddenWidth: hiddenWidth, l2: l2, initializationSeed: rng.next()),
                    corruption: parts.record)
    }
}

extension LogisticRegression {
    /// The breast-cancer benchmark: ``Dataset/breastCancer()`` split (stratified, seeded),
    /// standardised on the training part, with a bias feature (d = 31: 30 features + bias).
    /// - Throws: data-loading errors, or ``DataError`` for sizes beyond the 569 samples.
    public static func breastCancer(
        trainCount: Int = 300, validationCount: Int = 134, testCount: Int = 135,
        using rng: inout some RandomNumberGenerator
    ) throws -> LogisticRegression {
        try standardized(Dataset.breastCancer(), trainCount: trainCount, validationCount: validationCount,
                         testCount: testCount, using: &rng)
    }

    /// An MNIST pair ("3 versus 8" by default: label 1 for `positive`) from ``Dataset/mnist5k()``,
    /// pixels scaled to [0, 1], with a bias feature (d = 785), split stratified and seeded
    /// (1,000 samples: 500 per digit).
    public static func mnistPair(
        positive: Int = 8, negative: Int = 3, trainCount: Int = 500, validationCount: Int = 250, testCount: Int = 250,
        using rng: inout some RandomNumberGenerator
    ) throws -> LogisticRegression {
        let pair = try Dataset.mnist5k().binaryPair(positive: positive, negative: negative).scaled(by: 1.0 / 255)
            .withBiasFeature()
        let parts = try pair.split(trainCount: trainCount, validationCount: validationCount, testCount: testCount,
                                   using: &rng)
        return try LogisticRegression(training: parts.training, validation: parts.validation,
                                      test: testCount > 0 ? parts.test : nil)
    }

    /// Splits a binary data set (stratified, seeded), fits a ``Standardization`` on the training
    /// part, applies it to all parts and appends a bias feature.
    public static func standardized(
        _ dataset: Dataset, trainCount: Int, validationCount: Int, testCount: Int,
        using rng: inout some RandomNumberGenerator
    ) throws -> LogisticRegression {
        let parts = try dataset.split(trainCount: trainCount, validationCount: validationCount, testCount: testCount,
                                      using: &rng)
        let scaler = try Standardization(fittedTo: parts.training)
        return try LogisticRegression(
            training: scaler.apply(to: parts.training).withBiasFeature(),
            validation: scaler.apply(to: parts.validation).withBiasFeature(),
            test: testCount > 0 ? scaler.apply(to: parts.test).withBiasFeature() : nil)
    }
}
