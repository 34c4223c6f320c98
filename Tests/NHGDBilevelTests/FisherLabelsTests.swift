import Foundation
import NHGDLinearAlgebra
@testable import NHGDBilevel
import NHGDTestSupport
import Testing

/// The sampled-label Fisher (ALGORITHMS.md §8): gradients at labels drawn from the model's
/// predictive distribution. For canonical-link models `E[g̃ g̃ᵀ] = aaᵀ ⊗ Λ`, the data Hessian,
/// whatever the observed labels; the empirical Fisher (observed labels) is biased when they are
/// corrupted.
@Suite("Sampled-label Fisher")
struct FisherLabelsTests {
    /// A softmax (K = 3) or logistic (K = 1) model on Gaussian inputs with half of the labels
    /// replaced at random, and a point y.
    private func corruptedModel<Loss: OutputLoss>(_ loss: Loss, classes: Int, _ c: inout PropertyCase)
        throws -> (LinearModel<Loss>, [Double]) {
        let d = c.size(2...4), n = 30 + c.size(0...20), k = loss.outputCount
        let a = c.gaussianMatrix(rows: d, columns: n)
        let y = c.vector(count: d * k).map { 0.7 * $0 }
        let labels = (0..<n).map { _ in Double(c.int(in: 0...(classes - 1))) }
        c.note("d=\(d) n=\(n) K=\(k)")
        return (try LinearModel(inputs: a, targets: labels, loss: loss), y)
    }

    /// The mean of R draws of `X_r = (1/n) Σᵢ g̃ᵢ g̃ᵢᵀ` against `H_data = (1/n) Σᵢ ∇²ℓᵢ`.
    ///
    /// Bound: the draws are independent and each entry of `X_r` is bounded (every residual
    /// entry lies in [−1, 1]), so by the CLT the mean of R = 1500 draws deviates from its
    /// expectation by at most 7 standard errors `σ̂/√R` (σ̂ the sample deviation of that entry
    /// over the draws) except with probability < 10⁻¹¹ per entry, < 10⁻⁸ over ≤ 144 entries and
    /// 8 cases. The empirical Fisher of the corrupted labels (deterministic) must miss H_data by
    /// more than 3 times that tolerance somewhere: the bias the sampled labels remove.
    private func check<Loss: OutputLoss>(_ loss: Loss, classes: Int, _ c: inout PropertyCase) throws {
        let (model, y) = try corruptedModel(loss, classes: classes, &c)
        let p = model.parameterCount, n = model.sampleCount, draws = 1500
        var hessian = Matrix(rows: p, columns: p)
        try model.addHessian(at: y, coefficients: [Double](repeating: 1 / Double(n), count: n), to: &hessian)
        let scaledIdentity = Matrix.diagonal([Double](repeating: (1 / Double(n)).squareRoot(), count: n))
        var rng = Xoshiro256StarStar(seed: c.rng.next())
        var sampled = Matrix(rows: p, columns: p), squares = sampled, draw = sampled
        var columns = Matrix(rows: p, columns: n)
        for _ in 0..<draws {
            try model.gradientCombinations(at: y, samples: nil, coefficients: scaledIdentity, sampledLabelColumns: 0..<n,
                                           using: &rng, into: &columns)
            try BLAS.syrk(.none, columns, &draw)
            for e in draw.storage.indices {
                sampled.storage[e] += draw.storage[e] / Double(draws)
                squares.storage[e] += draw.storage[e] * draw.storage[e] / Double(draws)
            }
        }
        let standardErrors = sampled.storage.indices.map { e in
            (max(0, squares.storage[e] - sampled.storage[e] * sampled.storage[e]) / Double(draws - 1)).squareRoot()
        }
        try model.gradientCombinations(at: y, samples: nil, coefficients: scaledIdentity, into: &columns)
        var empirical = Matrix(rows: p, columns: p)
        try BLAS.syrk(.none, columns, &empirical)
        let scale = hessian.storage.map(abs).max()!
        var worst = 0.0
        for e in sampled.storage.indices {
            let excess = abs(sampled.storage[e] - hessian.storage[e]) - 7 * standardErrors[e]
            worst = max(worst, excess)
        }
        let t = 7 * standardErrors.max()!
        let empiricalError = maxAbsDifference(empirical, hessian)
        c.note("sampled error \(maxAbsDifference(sampled, hessian)), empirical error \(empiricalError), 7 SE ≤ \(t)")
        try c.expect(worst <= 1e-13 * scale, "the sampled-label Fisher misses H by more than 7 standard errors")
        try c.expect(empiricalError > 3 * t, "the empirical Fisher is not biased here (\(empiricalError) ≤ 3·7 SE)")
    }

    @Test func sampledLabelFisherConvergesToTheSoftmaxHessian() throws {
        try forAll("E[g̃g̃ᵀ] = H (softmax), empirical biased", cases: 8) { c in
            try check(SoftmaxCrossEntropy(classCount: 3), classes: 3, &c)
        }
    }

    @Test func sampledLabelFisherConvergesToTheLogisticHessian() throws {
        try forAll("E[g̃g̃ᵀ] = H (logistic), empirical biased", cases: 8) { c in
            try check(BinaryCrossEntropy(), classes: 2, &c)
        }
    }

    /// One draw per sample per call, shared by every sampled column: with the same generator,
    /// the sampled columns of any C are `G̃ C` for the per-sample gradients `G̃` of that draw
    /// (C = I), for every likelihood model — dense linear, sparse linear and the network — and
    /// the observed-label columns of the same call are untouched by the draw.
    @Test func sampledColumnsAreCombinationsOfOneDrawPerSample() throws {
        try forAll("sampled columns = G̃ C", cases: 12) { c in
            let n = c.size(2...12), d = c.size(1...5)
            let inputs = c.gaussianMatrix(rows: d, columns: n)
            let classes = 2 + c.int(in: 0...2)
            let labels = (0..<n).map { _ in c.int(in: 0...(classes - 1)) }
            let sparse = try SparseSamples(featureCount: d, rowStarts: (0...n).map { $0 * d },
                                           featureIndices: (0..<n).flatMap { _ in Array(0..<d) }, values: inputs.storage)
            let models: [any LikelihoodSampleLosses] = [
                try LinearModel(inputs: inputs, targets: labels.map(Double.init), loss: SoftmaxCrossEntropy(classCount: classes)),
                try SparseLinearModel(inputs: sparse, targets: labels.map { Double($0 % 2) }, loss: BinaryCrossEntropy()),
                try TanhNetwork(inputs: inputs, labels: labels, classCount: classes, hiddenWidth: 3, initializationSeed: 5),
            ]
            let samples = (0..<c.size(1...8)).map { _ in c.int(in: 0...(n - 1)) }
            let s = c.int(in: 1...4)
            let coefficients = c.gaussianMatrix(rows: samples.count, columns: 1 + s)
            let seed = c.rng.next()
            for model in models {
                try Self.checkOneDraw(model, samples: samples, coefficients: coefficients, seed: seed, &c)
            }
        }
    }

    private static func checkOneDraw(_ model: some LikelihoodSampleLosses, samples: [Int], coefficients: Matrix,
                                     seed: UInt64, _ c: inout PropertyCase) throws {
        let p = model.parameterCount, b = samples.count, columns = coefficients.columns
        let y = model.initialParameters().map { $0 + 0.3 } 
        var first = Xoshiro256StarStar(seed: seed), second = Xoshiro256StarStar(seed: seed)
        var perSample = Matrix(rows: p, columns: b)
        try model.gradientCombinations(at: y, samples: samples, coefficients: .identity(b), sampledLabelColumns: 0..<b,
                                       using: &first, into: &perSample)
        var mixed = Matrix(rows: p, columns: columns)
        try model.gradientCombinations(at: y, samples: samples, coefficients: coefficients,
                                       sampledLabelColumns: 1..<columns, using: &second, into: &mixed)
        var observed = Matrix(rows: p, columns: 1)
        let firstColumn = try Matrix(rows: b, columns: 1, storage: coefficients.column(0))
        try model.gradientCombinations(at: y, samples: samples, coefficients: firstColumn, into: &observed)
        let combined = referenceProduct(perSample, coefficients)
        for j in 1..<columns {
            try c.expect(relativeError(mixed.column(j), combined.column(j)) <= 1e-12 || maxAbsDifference(mixed.column(j), combined.column(j)) <= 1e-14,
                         "\(type(of: model)): sampled column \(j) is not G̃C")
        }
        try c.expect(relativeError(mixed.column(0), observed.column(0)) <= 1e-12
                     || maxAbsDifference(mixed.column(0), observed.column(0)) <= 1e-14,
                     "\(type(of: model)): the observed column changed")
    }
}
