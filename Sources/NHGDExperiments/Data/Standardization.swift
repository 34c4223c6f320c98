import Foundation
import NHGDLinearAlgebra

/// Per-feature affine standardisation `a_j ← (a_j − μ_j) / σ_j`, fitted on one data set
/// (the training set) and applied to others, so no validation or test statistics leak.
///
/// `σ_j` is the population standard deviation; a constant feature (all values equal) gets
/// `μ_j` = that value and `σ_j = 1`, so that it maps to exactly zero rather than to NaN.
public struct Standardization: Sendable, Equatable {
    /// Per-feature means `μ` (length d).
    public var means: [Double]
    /// Per-feature scales `σ` (length d, all positive).
    public var scales: [Double]

    /// Fits means and standard deviations to the samples of `dataset`.
    /// - Throws: ``DataError/invalidValue(name:value:requirement:)`` for an empty set.
    /// - Complexity: O(n·d), two passes (the second about the mean, for accuracy).
    public init(fittedTo dataset: Dataset) throws {
        let d = dataset.featureCount, n = dataset.sampleCount
        guard n > 0 else {
            throw DataError.invalidValue(name: "dataset", value: "empty", requirement: "at least one sample to fit")
        }
        var ones = [Double](repeating: 1 / Double(n), count: n)
        var mean = [Double](repeating: 0, count: d)
        try BLAS.gemv(.none, dataset.features, ones, &mean)
        var squares = [Double](repeating: 0, count: d)
        var constant = [Bool](repeating: true, count: d)
        dataset.features.storage.withUnsafeBufferPointer { a in
            for i in 0..<n {
                for j in 0..<d {
                    let value = a[j + i * d]
                    let centred = value - mean[j]
                    squares[j] += centred * centred
                    if value != a[j] { constant[j] = false }
                }
            }
        }
        ones = []
        // A constant feature is detected exactly (all values equal), not by a tiny standard
        // deviation: the rounded mean of equal values can differ from them by an ulp, which
        // would otherwise blow the feature up to ±1.
        means = (0..<d).map { constant[$0] ? dataset.features.storage[$0] : mean[$0] }
        scales = (0..<d).map { j in
            constant[j] ? 1 : (squares[j] / Double(n)).squareRoot()
        }
    }

    /// Applies the fitted map to `dataset` (same feature count).
    /// - Throws: ``DataError/dimensionMismatch(operation:expected:actual:)``.
    /// - Complexity: O(n·d).
    public func apply(to dataset: Dataset) throws -> Dataset {
        let d = means.count
        guard dataset.featureCount == d else {
            throw DataError.dimensionMismatch(
                operation: "Standardization.apply", expected: "\(d) features", actual: "\(dataset.featureCount)")
        }
        var out = dataset
        let inverse = scales.map { 1 / $0 }
        out.features.storage.withUnsafeMutableBufferPointer { a in
            for i in 0..<dataset.sampleCount {
                for j in 0..<d { a[j + i * d] = (a[j + i * d] - means[j]) * inverse[j] }
            }
        }
        return out
    }
}

extension Dataset {
    /// Every feature multiplied by `factor` (for example MNIST pixels by 1/255).
    /// - Throws: ``DataError/invalidValue(name:value:requirement:)`` unless finite.
    public func scaled(by factor: Double) throws -> Dataset {
        guard factor.isFinite else {
            throw DataError.invalidValue(name: "scale factor", value: "\(factor)", requirement: "finite")
        }
        var out = self
        BLAS.scale(&out.features.storage, by: factor)
        return out
    }

    /// A constant feature 1 appended to every sample (`d + 1` features, the last one the bias),
    /// so that a linear model `yᵀa` gets an intercept.
    /// - Complexity: O(n·d), a copy.
    public func withBiasFeature() -> Dataset {
        let d = featureCount, n = sampleCount
        var out = Matrix(rows: d + 1, columns: n, repeating: 1)
        features.storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    (dst.baseAddress! + i * (d + 1)).update(from: src.baseAddress! + i * d, count: d)
                }
            }
        }
        return Dataset(unchecked: name, features: out, labels: labels, classCount: classCount, labelNames: labelNames)
    }
}
