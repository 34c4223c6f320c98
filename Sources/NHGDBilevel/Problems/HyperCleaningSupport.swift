import Foundation
import NHGDLinearAlgebra

// Pieces shared by the two hyper-cleaning problems, ``DataHyperCleaning`` (softmax regression)
// and ``MLPHyperCleaning`` (a tanh network), which differ only in how the logits of a sample
// are computed (ALGORITHMS.md §7): the argument checks of their initialisers, the softmax
// cross-entropy, the per-sample weights `σ(xᵢ)` and the metrics.

/// Throws unless the validation and test sets have the training set's feature and class counts,
/// d ≥ 1, K ≥ 2 and the training and validation sets are not empty.
func requireHyperCleaningData(training: Dataset, validation: Dataset, test: Dataset?, _ operation: String) throws {
    let d = training.featureCount, k = training.classCount
    for (set, role) in [(validation, "validation")] + (test.map { [($0, "test")] } ?? []) {
        guard set.featureCount == d, set.classCount == k else {
            throw BilevelError.dimensionMismatch(
                operation: operation, expected: "\(d) features and \(k) classes",
                actual: "\(set.featureCount) features and \(set.classCount) classes in \(role)")
        }
    }
    guard d >= 1, k >= 2, training.sampleCount >= 1, validation.sampleCount >= 1 else {
        throw BilevelError.invalidHyperparameter(
            name: "data", value: "d = \(d), K = \(k), n = \(training.sampleCount), m = \(validation.sampleCount)",
            requirement: "at least one feature, two classes, one training and one validation sample")
    }
}

/// Throws unless the L2 coefficient `c` is finite and ≥ 0 and the corruption record (when
/// given) covers the `trainingCount` training samples.
func requireHyperCleaningSettings(
    l2: Double, corruption: LabelCorruption?, trainingCount: Int, _ operation: String
) throws {
    guard l2 >= 0, l2.isFinite else {
        throw BilevelError.invalidHyperparameter(name: "l2", value: "\(l2)", requirement: "finite and ≥ 0")
    }
    if let corruption, corruption.changed.count != trainingCount {
        throw BilevelError.dimensionMismatch(
            operation: operation, expected: "a corruption record for \(trainingCount) samples",
            actual: "\(corruption.changed.count)")
    }
}

/// Softmax of each of the leading `count` columns of `z` (K × ·) in place, max-shifted so no
/// exponential overflows; returns each column's cross-entropy
/// `CE = log Σ_c e^{z_c} − z_label = log Σ_c e^{z_c − max z} − (z_label − max z)`.
/// - Complexity: O(K · count): K exponentials and two logarithms per column.
func softmaxCrossEntropyColumns(_ z: inout Matrix, count: Int, labels: some Collection<Int>) -> [Double] {
    let k = z.rows
    var losses = [Double](repeating: 0, count: count)
    z.storage.withUnsafeMutableBufferPointer { zp in
        for (j, label) in zip(0..<count, labels) {
            let base = j * k
            var top = -Double.infinity
            for c in 0..<k { top = max(top, zp[base + c]) }
            var total = 0.0
            for c in 0..<k {
                let e = exp(zp[base + c] - top)
                zp[base + c] = e
                total += e
            }
            losses[j] = log(total) - log(zp[base + label])  // log e^{z_label − top} = z_label − top
            let inverse = 1 / total
            for c in 0..<k { zp[base + c] *= inverse }
        }
    }
    return losses
}

/// How many of the leading columns of `scores` (K × ·), one per sample of `indices`, have their
/// first maximum at the sample's label `labels[i]`.
func argmaxMatches(_ scores: Matrix, indices: some Sequence<Int>, labels: [Int]) -> Int {
    var correct = 0
    for (j, i) in indices.enumerated() {
        var best = 0
        for c in 1..<scores.rows where scores[c, j] > scores[best, j] { best = c }
        if best == labels[i] { correct += 1 }
    }
    return correct
}

/// The inner objective's data term `(1/n) Σᵢ σ(xᵢ) CEᵢ` from the n per-sample losses.
func sampleWeightedMeanLoss(x: [Double], losses: [Double]) -> Double {
    var total = 0.0
    for i in 0..<losses.count { total += logistic(x[i]) * losses[i] }
    return total / Double(losses.count)
}

/// The metrics of a hyper-cleaning problem (see ``DataHyperCleaning``): `validation_loss`,
/// `validation_accuracy`, `test_loss` and `test_accuracy` (with a test set), and, when the
/// corruption record has both clean and corrupted samples, `auroc` of the score `1 − σ(xᵢ)`
/// for "label was changed", `mean_weight_clean` and `mean_weight_corrupted` (the mean `σ(xᵢ)`
/// over each group).
func hyperCleaningMetrics(
    x: [Double], corruption: LabelCorruption?, validation: (loss: Double, accuracy: Double),
    test: (loss: Double, accuracy: Double)?
) throws -> [String: Double] {
    var result = ["validation_loss": validation.loss, "validation_accuracy": validation.accuracy]
    if let test {
        result["test_loss"] = test.loss
        result["test_accuracy"] = test.accuracy
    }
    let n = x.count
    if let corruption, corruption.changedCount > 0, corruption.changedCount < n {
        let weights = x.map(logistic)
        result["auroc"] = try auroc(scores: weights.map { 1 - $0 }, labels: corruption.changed)
        var clean = 0.0, corrupted = 0.0
        for i in 0..<n {
            if corruption.changed[i] { corrupted += weights[i] } else { clean += weights[i] }
        }
        result["mean_weight_corrupted"] = corrupted / Double(corruption.changedCount)
        result["mean_weight_clean"] = clean / Double(n - corruption.changedCount)
    }
    return result
}
