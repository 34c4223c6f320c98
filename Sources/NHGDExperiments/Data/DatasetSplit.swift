import NHGDLinearAlgebra

/// A seeded train / validation / test partition of a data set.
public struct DatasetSplit: Sendable {
    /// The training samples.
    public var training: Dataset
    /// The validation samples.
    public var validation: Dataset
    /// The test samples (empty when no test set was requested).
    public var test: Dataset
    /// Indices into the original data set, per part.
    public var trainingIndices: [Int], validationIndices: [Int], testIndices: [Int]
}

extension Dataset {
    /// Splits into disjoint training, validation and test sets of the given sizes, drawn at
    /// random without replacement (samples not drawn are left out).
    ///
    /// With `stratified`, the classes are interleaved before the parts are cut: class `c`'s
    /// `n_c` samples (shuffled) get the keys `(j + U_j) / n_c`, `j = 0..<n_c`, `U_j` uniform, and
    /// all samples are sorted by key. Every prefix of length `L` then holds `L·n_c/n ± 1`
    /// samples of class `c`, so each part's class proportions match the whole set's to within
    /// two samples. Without it, a uniformly random permutation is cut.
    ///
    /// - Throws: ``DataError/invalidValue(name:value:requirement:)`` when a size is
    ///   negative or the sizes add up to more than ``sampleCount``. The sum is formed with
    ///   overflow-reporting arithmetic: sizes whose sum does not fit an `Int` (a command line's
    ///   `--train 9223372036854775807`) add up to more than any data set, and are refused like
    ///   any other split that does not fit, instead of trapping.
    /// - Complexity: O(n log n + d·(trainCount + validationCount + testCount)).
    public func split(
        trainCount: Int, validationCount: Int, testCount: Int = 0, stratified: Bool = true,
        using rng: inout some RandomNumberGenerator
    ) throws -> DatasetSplit {
        let n = sampleCount
        let (trainAndValidation, overflow1) = trainCount.addingReportingOverflow(validationCount)
        let (total, overflow2) = trainAndValidation.addingReportingOverflow(testCount)
        guard trainCount >= 0, validationCount >= 0, testCount >= 0, !overflow1, !overflow2, total <= n else {
            throw DataError.invalidValue(
                name: "split sizes", value: "\(trainCount) + \(validationCount) + \(testCount)",
                requirement: "non-negative and at most the \(n) samples of \(name)")
        }
        var order: [Int]
        if stratified {
            var byClass = [[Int]](repeating: [], count: classCount)
            for i in 0..<n { byClass[labels[i]].append(i) }
            var keyed = [(key: Double, index: Int)]()
            keyed.reserveCapacity(n)
            for var members in byClass where !members.isEmpty {
                members.shuffle(using: &rng)
                let count = Double(members.count)
                for (j, i) in members.enumerated() {
                    let jitter = Double(rng.next() >> 11) * 0x1.0p-53
                    keyed.append((key: (Double(j) + jitter) / count, index: i))
                }
            }
            keyed.sort { $0.key < $1.key }
            order = keyed.map(\.index)
        } else {
            order = Array(0..<n)
            order.shuffle(using: &rng)
        }
        let trainingIndices = Array(order[0..<trainCount])
        let validationIndices = Array(order[trainCount..<trainAndValidation])
        let testIndices = Array(order[trainAndValidation..<total])
        return DatasetSplit(
            training: try subset(trainingIndices, name: "\(name)/train"),
            validation: try subset(validationIndices, name: "\(name)/validation"),
            test: try subset(testIndices, name: "\(name)/test"),
            trainingIndices: trainingIndices, validationIndices: validationIndices, testIndices: testIndices)
    }
}
