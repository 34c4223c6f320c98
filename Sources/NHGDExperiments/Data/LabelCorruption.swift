import NHGDLinearAlgebra

/// Which training labels were corrupted, and how (the ground truth of data hyper-cleaning).
public struct LabelCorruption: Sendable, Equatable {
    /// The labels before corruption.
    public var originalLabels: [Int]
    /// `replaced[i]`: sample `i` was drawn for corruption and got a uniformly random label.
    public var replaced: [Bool]
    /// `changed[i]`: the new label differs from the original (a replaced label equals the
    /// original with probability 1/K, and then the sample is in fact clean).
    public var changed: [Bool]

    /// Number of replaced labels.
    public var replacedCount: Int { replaced.lazy.filter { $0 }.count }
    /// Number of labels that actually changed.
    public var changedCount: Int { changed.lazy.filter { $0 }.count }
}

extension Dataset {
    /// Replaces the labels of `⌊fraction·n⌉` samples, chosen uniformly without replacement, by
    /// labels drawn uniformly from all `K` classes (so about `fraction·(K−1)/K` of the labels
    /// change). Returns the corrupted set and the record of what was done.
    /// - Throws: ``DataError/invalidValue(name:value:requirement:)`` unless
    ///   `0 ≤ fraction ≤ 1`.
    /// - Complexity: O(n).
    public func corruptingLabels(
        fraction: Double, using rng: inout some RandomNumberGenerator
    ) throws -> (dataset: Dataset, corruption: LabelCorruption) {
        guard fraction >= 0, fraction <= 1 else {
            throw DataError.invalidValue(name: "corruption fraction", value: "\(fraction)",
                                                     requirement: "in [0, 1]")
        }
        let n = sampleCount
        let count = Int((fraction * Double(n)).rounded())
        var order = Array(0..<n)
        // Partial Fisher–Yates: the first `count` entries are a uniform random subset.
        for i in 0..<count {
            let j = Int.random(in: i..<n, using: &rng)
            order.swapAt(i, j)
        }
        var newLabels = labels
        var replaced = [Bool](repeating: false, count: n)
        var changed = [Bool](repeating: false, count: n)
        for i in order[0..<count] {
            let label = Int.random(in: 0..<classCount, using: &rng)
            newLabels[i] = label
            replaced[i] = true
            changed[i] = label != labels[i]
        }
        var corrupted = self
        corrupted.labels = newLabels
        return (corrupted, LabelCorruption(originalLabels: labels, replaced: replaced, changed: changed))
    }
}
