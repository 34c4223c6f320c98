import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDExperiments

/// A random classification data set: Gaussian features, labels uniform over `k` classes.
func randomLabelledDataset(d: Int, n: Int, k: Int, using rng: inout Xoshiro256StarStar) throws -> Dataset {
    try Dataset(name: "random", features: Matrix.gaussian(rows: d, columns: n, using: &rng),
                labels: (0..<n).map { _ in Int.random(in: 0..<k, using: &rng) }, classCount: k)
}

@Suite struct DataTransformTests {
    @Test func splitSizesDisjointnessAndDeterminism() throws {
        try forAll("split", cases: 30) { c in
            let n = c.size(1...400), k = c.size(1...6)
            let data = try randomLabelledDataset(d: 3, n: n, k: k, using: &c.rng)
            let train = c.int(in: 0...n), validation = c.int(in: 0...(n - train)), test = c.int(in: 0...(n - train - validation))
            let stratified = c.bool()
            let seed = c.rng.next()
            c.note("n=\(n) k=\(k) sizes=\(train)/\(validation)/\(test) stratified=\(stratified)")
            var rng1 = Xoshiro256StarStar(seed: seed), rng2 = Xoshiro256StarStar(seed: seed)
            let a = try data.split(trainCount: train, validationCount: validation, testCount: test, stratified: stratified, using: &rng1)
            let b = try data.split(trainCount: train, validationCount: validation, testCount: test, stratified: stratified, using: &rng2)
            try c.expect(a.trainingIndices == b.trainingIndices && a.testIndices == b.testIndices, "not deterministic")
            try c.expect(a.training.sampleCount == train && a.validation.sampleCount == validation
                         && a.test.sampleCount == test, "sizes")
            let all = a.trainingIndices + a.validationIndices + a.testIndices
            try c.expect(Set(all).count == all.count, "parts overlap")
            for (part, indices) in [(a.training, a.trainingIndices), (a.validation, a.validationIndices)] {
                try c.expect(part.labels == indices.map { data.labels[$0] }, "labels do not follow indices")
                for (j, i) in indices.enumerated() where part.features.column(j) != data.features.column(i) {
                    throw c.failure("features do not follow indices")
                }
            }
            if stratified {
                // Each part's class counts are within 2 of its proportional share (see split's doc).
                let counts = data.classCounts
                for part in [a.training, a.validation, a.test] {
                    for (cls, count) in part.classCounts.enumerated() {
                        let share = Double(part.sampleCount) * Double(counts[cls]) / Double(n)
                        try c.expect(abs(Double(count) - share) <= 2, "class \(cls): \(count) vs share \(share)")
                    }
                }
            }
        }
        let data = try shippedBreastCancer.get()
        var rng = Xoshiro256StarStar(seed: 1)
        #expect(throws: DataError.self) { try data.split(trainCount: 500, validationCount: 70, using: &rng) }
        #expect(throws: DataError.self) { try data.split(trainCount: -1, validationCount: 70, using: &rng) }
    }

    /// Sizes whose sum overflows `Int` are refused with the typed error, not a trap (they came
    /// from `nhgd clean --train 9223372036854775807`, which crashed with SIGILL).
    @Test func splitSizesWhoseSumOverflowsAreRefused() throws {
        let data = try shippedBreastCancer.get()
        var rng = Xoshiro256StarStar(seed: 1)
        let cases: [(Int, Int, Int)] = [(.max, 1000, 2000), (1, .max, 1), (1, 1, .max), (.max, .max, .max),
                                        (.max / 2 + 1, .max / 2 + 1, 0)]
        for (train, validation, test) in cases {
            #expect(throws: DataError.invalidValue(
                name: "split sizes", value: "\(train) + \(validation) + \(test)",
                requirement: "non-negative and at most the 569 samples of breast-cancer")) {
                try data.split(trainCount: train, validationCount: validation, testCount: test, using: &rng)
            }
        }
        // The largest split that fits is still accepted.
        let all = try data.split(trainCount: 300, validationCount: 200, testCount: 69, using: &rng)
        #expect(all.testIndices.count == 69 && Set(all.trainingIndices + all.validationIndices + all.testIndices).count == 569)
    }

    @Test func corruptionReplacesTheRequestedFraction() throws {
        try forAll("label corruption", cases: 30) { c in
            let n = c.size(0...300), k = c.size(1...10)
            let fraction = c.double(in: 0...1)
            let data = try randomLabelledDataset(d: 2, n: n, k: k, using: &c.rng)
            c.note("n=\(n) k=\(k) fraction=\(fraction)")
            let (corrupted, record) = try data.corruptingLabels(fraction: fraction, using: &c.rng)
            try c.expect(record.replacedCount == Int((fraction * Double(n)).rounded()), "replaced count")
            try c.expect(record.originalLabels == data.labels && corrupted.features == data.features, "originals kept")
            for i in 0..<n {
                try c.expect(record.changed[i] == (corrupted.labels[i] != data.labels[i]), "changed[\(i)]")
                try c.expect(record.replaced[i] || !record.changed[i], "changed but not replaced")
                try c.expect((0..<k).contains(corrupted.labels[i]), "label range")
            }
        }
        // The changed fraction is fraction·(K−1)/K in expectation: 5000 MNIST labels at 50%,
        // changed ~ Binomial(2500, 0.9), mean 2250, sd 15; 6 sd bounds.
        var rng = Xoshiro256StarStar(seed: 3)
        let (_, record) = try shippedMNIST.get().corruptingLabels(fraction: 0.5, using: &rng)
        #expect(record.replacedCount == 2500)
        #expect(abs(record.changedCount - 2250) <= 90)
        #expect(throws: DataError.self) { try shippedMNIST.get().corruptingLabels(fraction: 1.5, using: &rng) }
    }

    @Test func standardizationFitsOnTrainingAndAppliesEverywhere() throws {
        try forAll("standardization", cases: 20) { c in
            let d = c.size(1...8), n = c.size(2...60)
            var features = c.gaussianMatrix(rows: d, columns: n)
            for i in 0..<n { features[0, i] = 3.5 }  // a constant feature
            let shift = c.vector(count: d), scale = c.vector(count: d, in: 0.1...100)
            for i in 0..<n { for j in 1..<d { features[j, i] = features[j, i] * scale[j] + shift[j] } }
            let train = try Dataset(name: "t", features: features, labels: [Int](repeating: 0, count: n), classCount: 1)
            let other = try randomLabelledDataset(d: d, n: 5, k: 1, using: &c.rng)
            let fit = try Standardization(fittedTo: train)
            let standardized = try fit.apply(to: train)
            for j in 0..<d {
                let row = (0..<n).map { standardized.features[j, $0] }
                let mean = row.reduce(0, +) / Double(n)
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
                // Mean and variance of the standardized data: exact up to O(n·ε) rounding.
                try c.expect(abs(mean) <= 1e-12, "feature \(j) mean \(mean)")
                try c.expect(j == 0 ? variance == 0 : abs(variance - 1) <= 1e-12, "feature \(j) variance \(variance)")
            }
            let applied = try fit.apply(to: other)
            for i in 0..<5 {
                for j in 0..<d {
                    let expected = (other.features[j, i] - fit.means[j]) / fit.scales[j]
                    try c.expect(abs(applied.features[j, i] - expected) <= 1e-12 * max(1, abs(expected)), "apply")
                }
            }
        }
        var rng = Xoshiro256StarStar(seed: 2)
        let fit = try Standardization(fittedTo: try randomLabelledDataset(d: 3, n: 4, k: 1, using: &rng))
        #expect(throws: DataError.self) { try fit.apply(to: try randomLabelledDataset(d: 2, n: 4, k: 1, using: &rng)) }
    }

    @Test func biasScalingAndBinaryPairs() throws {
        var rng = Xoshiro256StarStar(seed: 5)
        let data = try randomLabelledDataset(d: 4, n: 7, k: 3, using: &rng)
        let biased = data.withBiasFeature()
        #expect(biased.featureCount == 5)
        for i in 0..<7 {
            #expect(biased.features[4, i] == 1)
            #expect(Array(biased.features.column(i).prefix(4)) == data.features.column(i))
        }
        #expect(try data.scaled(by: 2).features.storage == data.features.storage.map { 2 * $0 })

        let pair = try shippedMNIST.get().binaryPair(positive: 8, negative: 3)
        #expect(pair.sampleCount == 1000 && pair.classCount == 2 && pair.classCounts == [500, 500])
        #expect(pair.labelNames == ["3", "8"] && pair.name == "mnist-5k-3-vs-8")
        #expect(throws: DataError.self) { try data.binaryPair(positive: 1, negative: 1) }
        #expect(throws: DataError.self) { try data.subset([7]) }
    }
}
