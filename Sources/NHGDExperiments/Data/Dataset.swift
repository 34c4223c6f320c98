import NHGDLinearAlgebra

/// A labelled classification (or regression-by-label) data set held in memory.
///
/// Samples are the **columns** of a `d × n` column-major ``Matrix`` (`features[:, i]` is
/// sample `i`'s feature vector, contiguous in memory), because the per-sample oracles of the
/// bilevel problems read one sample's vector at a time and BLAS reads column blocks
/// `A[:, i..<j]` without copying. Labels are class indices in `0..<classCount`.
///
/// Built-in data sets: ``mnist5k()`` and ``breastCancer()`` (see Docs/data.md for provenance
/// and licences); a user's data comes from ``load(csvAt:labelInLastColumn:)`` or
/// ``load(binaryAt:)``.
public struct Dataset: Sendable, Equatable {
    /// A short name for reports ("mnist-5k", "breast-cancer", or the file's name).
    public var name: String
    /// `d × n`: column `i` is sample `i`'s features.
    public internal(set) var features: Matrix
    /// `n` class indices in `0..<classCount`.
    public internal(set) var labels: [Int]
    /// K, the number of classes.
    public internal(set) var classCount: Int
    /// A name per class (for example `["malignant", "benign"]`), `classCount` of them.
    public internal(set) var labelNames: [String]

    /// d, the number of features.
    public var featureCount: Int { features.rows }
    /// n, the number of samples.
    public var sampleCount: Int { features.columns }

    /// Checks and wraps the parts of a data set.
    /// - Throws: ``DataError/dimensionMismatch(operation:expected:actual:)`` when
    ///   `labels.count ≠ features.columns` or `labelNames.count ≠ classCount`;
    ///   ``DataError/nonFinite(operation:argument:)`` for NaN/∞ features;
    ///   ``DataError/invalidValue(name:value:requirement:)`` for a label outside
    ///   `0..<classCount` or `classCount < 1`.
    public init(name: String, features: Matrix, labels: [Int], classCount: Int, labelNames: [String]? = nil) throws {
        guard classCount >= 1 else {
            throw DataError.invalidValue(name: "classCount", value: "\(classCount)", requirement: "at least 1")
        }
        guard labels.count == features.columns else {
            throw DataError.dimensionMismatch(
                operation: "Dataset.init", expected: "\(features.columns) labels (one per column)",
                actual: "\(labels.count) labels")
        }
        let names = labelNames ?? (0..<classCount).map(String.init)
        guard names.count == classCount else {
            throw DataError.dimensionMismatch(
                operation: "Dataset.init", expected: "\(classCount) label names", actual: "\(names.count)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw DataError.invalidValue(
                name: "labels[\(bad)]", value: "\(labels[bad])", requirement: "a class index in 0..<\(classCount)")
        }
        if features.firstNonFiniteIndex != nil {
            throw DataError.nonFinite(operation: "Dataset.init", argument: "features")
        }
        self.name = name
        self.features = features
        self.labels = labels
        self.classCount = classCount
        self.labelNames = names
    }

    /// Internal unchecked initialiser for transformations that preserve the invariants.
    init(unchecked name: String, features: Matrix, labels: [Int], classCount: Int, labelNames: [String]) {
        self.name = name
        self.features = features
        self.labels = labels
        self.classCount = classCount
        self.labelNames = labelNames
    }

    /// The number of samples of each class (length `classCount`).
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// The samples `indices`, in that order (indices may repeat).
    /// - Throws: ``DataError/sampleOutOfRange(index:count:)``.
    /// - Complexity: O(d · indices.count), one column copy per index.
    public func subset(_ indices: [Int], name: String? = nil) throws -> Dataset {
        let d = featureCount, n = sampleCount
        if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
            throw DataError.sampleOutOfRange(index: bad, count: n)
        }
        var out = Matrix(rows: d, columns: indices.count)
        features.gatherColumns(indices, into: &out)
        return Dataset(unchecked: name ?? self.name, features: out, labels: indices.map { labels[$0] },
                       classCount: classCount, labelNames: labelNames)
    }

    /// The same samples with the labels replaced (same length, same classes).
    /// - Throws: as ``init(name:features:labels:classCount:labelNames:)``.
    public func relabeled(_ newLabels: [Int]) throws -> Dataset {
        try Dataset(name: name, features: features, labels: newLabels, classCount: classCount, labelNames: labelNames)
    }

    /// A binary data set from the samples of two classes: label 1 for `positive`, 0 for
    /// `negative` (for example MNIST "3 versus 8" as `binaryPair(positive: 8, negative: 3)`).
    /// - Throws: ``DataError/invalidValue(name:value:requirement:)`` for equal or
    ///   out-of-range classes.
    public func binaryPair(positive: Int, negative: Int) throws -> Dataset {
        guard (0..<classCount).contains(positive), (0..<classCount).contains(negative), positive != negative else {
            throw DataError.invalidValue(
                name: "binaryPair classes", value: "(\(positive), \(negative))",
                requirement: "two different classes in 0..<\(classCount)")
        }
        let indices = labels.indices.filter { labels[$0] == positive || labels[$0] == negative }
        var pair = try subset(indices, name: "\(name)-\(labelNames[negative])-vs-\(labelNames[positive])")
        pair.labels = indices.map { labels[$0] == positive ? 1 : 0 }
        pair.classCount = 2
        pair.labelNames = [labelNames[negative], labelNames[positive]]
        return pair
    }
}
