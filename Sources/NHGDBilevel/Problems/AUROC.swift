import Foundation

/// The area under the ROC curve of `scores` for separating the samples with `labels[i] ==
/// true` (positives) from the rest, by the Mann–Whitney statistic with ties counted one half:
///
/// ```
/// AUROC = (1 / (n₊ n₋)) Σ_{i positive} Σ_{j negative} ( [sᵢ > sⱼ] + ½ [sᵢ = sⱼ] )
///       = (R₊ − n₊(n₊ + 1)/2) / (n₊ n₋),
/// ```
///
/// where `R₊` is the sum of the positives' ranks, tied scores sharing their average (mid-)rank.
/// 1 means every positive scores above every negative, 0.5 is chance.
///
/// - Throws: ``BilevelError/dimensionMismatch(operation:expected:actual:)`` for different
///   lengths, ``BilevelError/nonFinite(operation:argument:)`` for NaN/∞ scores, and
///   ``BilevelError/invalidHyperparameter(name:value:requirement:)`` when either class is empty
///   (the AUROC is then undefined).
/// - Complexity: O(n log n), one sort.
public func auroc(scores: [Double], labels: [Bool]) throws -> Double {
    try requireCount(scores, labels.count, "auroc", "scores")
    try requireAllFinite(scores, "auroc", "scores")
    let positives = labels.lazy.filter { $0 }.count
    let negatives = labels.count - positives
    guard positives > 0, negatives > 0 else {
        throw BilevelError.invalidHyperparameter(
            name: "auroc labels", value: "\(positives) positive, \(negatives) negative",
            requirement: "at least one of each")
    }
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var positiveRankSum = 0.0
    var start = 0
    while start < order.count {
        var end = start + 1
        while end < order.count && scores[order[end]] == scores[order[start]] { end += 1 }
        // Ranks start+1 … end share their mean.
        let midRank = Double(start + 1 + end) / 2
        for k in start..<end where labels[order[k]] { positiveRankSum += midRank }
        start = end
    }
    let p = Double(positives), q = Double(negatives)
    return (positiveRankSum - p * (p + 1) / 2) / (p * q)
}
