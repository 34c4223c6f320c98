import NHGDLinearAlgebra

// Checks and metrics shared by the built-in problems.

/// Throws unless every given input matrix has d rows.
func requireSameFeatures(_ d: Int, _ parts: [(String, Matrix?)], _ operation: String) throws {
    for case let (name, matrix?) in parts where matrix.rows != d {
        throw BilevelError.dimensionMismatch(operation: operation, expected: "\(d) rows in \(name)",
                                             actual: "\(matrix.rows)")
    }
}

/// Throws unless there is at least one feature, one training and one validation sample.
func requireNonEmpty(features d: Int, training n: Int, validation m: Int) throws {
    guard d >= 1, n >= 1, m >= 1 else {
        throw BilevelError.invalidHyperparameter(
            name: "data", value: "d = \(d), n = \(n), m = \(m)",
            requirement: "at least one feature, training and validation sample")
    }
}

/// `validation_loss`, `validation_accuracy`, and with a non-empty test set `test_loss` and
/// `test_accuracy`.
func classificationMetrics<Model: ClassifierSampleLosses>(validation: Model, test: Model?, at y: [Double]) throws
    -> [String: Double] {
    var result = ["validation_loss": try validation.meanLoss(at: y),
                  "validation_accuracy": try validation.accuracy(at: y)]
    if let test, test.sampleCount > 0 {
        result["test_loss"] = try test.meanLoss(at: y)
        result["test_accuracy"] = try test.accuracy(at: y)
    }
    return result
}

/// Throws unless `v` has length `n` and finite entries.
func requireFiniteVector(_ v: [Double], _ n: Int, _ operation: String, _ argument: String) throws {
    try requireCount(v, n, operation, argument)
    try requireAllFinite(v, operation, argument)
}
