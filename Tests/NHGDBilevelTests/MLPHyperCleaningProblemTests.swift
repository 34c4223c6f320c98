import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDBilevel
import NHGDExperiments

/// A random MLP hyper-cleaning problem: Gaussian inputs, labels from a random linear model,
/// a fraction of the training labels corrupted.
private func randomMLPProblem(d: Int, h: Int, k: Int, n: Int, m: Int, l2: Double,
                              using rng: inout Xoshiro256StarStar) throws -> MLPHyperCleaning {
    let truth = Matrix.gaussian(rows: d, columns: k, using: &rng)
    func draw(_ count: Int) throws -> Dataset {
        let features = Matrix.gaussian(rows: d, columns: count, using: &rng)
        var logits = Matrix(rows: k, columns: count)
        try BLAS.gemm(.transpose, .none, truth, features, beta: 0, &logits)
        let labels = (0..<count).map { i in (0..<k).max { logits[$0, i] < logits[$1, i] }! }
        return try Dataset(name: "x", features: features, labels: labels, classCount: k)
    }
    let (training, record) = try draw(n).corruptingLabels(fraction: Double.random(in: 0.2...0.6, using: &rng), using: &rng)
    return try MLPHyperCleaning(training: training, corruption: record, validation: draw(m), test: draw(m),
                                hiddenWidth: h, l2: l2, initializationSeed: rng.next())
}

@Suite struct MLPHyperCleaningProblemTests {
    /// Every oracle against central differences (``checkOracles``), including the R-operator
    /// HVP against the difference of gradients, on the full batch and a minibatch. The points
    /// keep |x| ≤ 3 and y at the Glorot scale plus O(1) noise, so tanh stays away from
    /// saturation-induced tiny curvatures and the 1e-6 bound of `oracleTolerance` holds.
    /// Sizes span more than one 256-sample block so the block loop and the gathered path run.
    @Test func oraclesPassFiniteDifferenceCheck() throws {
        try forAll("MLP hyper-cleaning oracles", cases: 10) { c in
            let d = c.size(1...6), h = c.size(1...5), k = c.size(2...4), n = c.size(1...300), m = c.size(1...15)
            var rng = c.rng
            let problem = try randomMLPProblem(d: d, h: h, k: k, n: n, m: m, l2: c.logUniform(in: 1e-3...1), using: &rng)
            let x = c.vector(count: n, in: -3...3)
            var y = problem.initialInner()
            let noise = c.vector(count: y.count)
            BLAS.axpy(0.5, noise, &y)
            try expectOraclesPass(problem, at: x, y, checks: 12, context: "d=\(d) h=\(h) k=\(k) n=\(n) m=\(m)", in: &c)
        }
    }

    /// An exact HVP is the product with a symmetric matrix, so `uᵀ(Hv) = vᵀ(Hu)` to rounding:
    /// both sides sum O(p·n) products of O(1) terms, so they agree to ~1e-13 relative to
    /// `‖u‖‖Hv‖`; a finite-difference HVP (error ~1e-8) could not pass 1e-11. Also: linearity
    /// in v, and the minibatch of all samples equals the full batch.
    @Test func hessianVectorProductIsExactAndSymmetric() throws {
        try forAll("MLP HVP symmetry", cases: 15) { c in
            let d = c.size(1...8), h = c.size(1...8), k = c.size(2...5), n = c.size(1...40), m = c.size(1...5)
            var rng = c.rng
            let problem = try randomMLPProblem(d: d, h: h, k: k, n: n, m: m, l2: c.logUniform(in: 1e-3...1), using: &rng)
            let p = problem.innerDimension
            let x = c.vector(count: n, in: -3...3), y = c.vector(count: p)
            let u = c.vector(count: p), v = c.vector(count: p)
            var hu = [Double](repeating: 0, count: p), hv = hu, hSum = hu, hAll = hu
            try problem.hessianVectorProduct(x: x, y: y, v: u, samples: nil, into: &hu)
            try problem.hessianVectorProduct(x: x, y: y, v: v, samples: nil, into: &hv)
            let asymmetry = abs(BLAS.dot(u, hv) - BLAS.dot(v, hu)) / (BLAS.norm(u) * BLAS.norm(hv) + BLAS.norm(v) * BLAS.norm(hu))
            c.note("d=\(d) h=\(h) k=\(k) n=\(n) p=\(p)")
            try c.expect(asymmetry <= 1e-12, "uᵀHv − vᵀHu relative \(asymmetry)")
            var sum = u
            BLAS.axpy(2, v, &sum)
            try problem.hessianVectorProduct(x: x, y: y, v: sum, samples: nil, into: &hSum)
            var expected = hu
            BLAS.axpy(2, hv, &expected)
            try c.expect(relativeError(hSum, expected) <= 1e-12, "not linear: \(relativeError(hSum, expected))")
            try problem.hessianVectorProduct(x: x, y: y, v: v, samples: Array((0..<n).reversed()), into: &hAll)
            try c.expect(relativeError(hAll, hv) <= 1e-12, "minibatch of all ≠ full batch: \(relativeError(hAll, hv))")
        }
    }

    /// The Khatri–Rao per-sample gradients against backpropagation written out with plain
    /// loops for one sample at a time (same products, ~1e-14 relative apart).
    @Test func perSampleGradientsMatchLoopBackpropagation() throws {
        try forAll("MLP per-sample gradients", cases: 12) { c in
            let d = c.size(1...6), h = c.size(1...6), k = c.size(2...4), n = c.size(1...20)
            var rng = c.rng
            let problem = try randomMLPProblem(d: d, h: h, k: k, n: n, m: 2, l2: 0.1, using: &rng)
            let p = problem.innerDimension
            let y = c.vector(count: p), x = c.vector(count: n)
            let samples = (0..<c.size(1...n)).map { _ in Int(c.rng.next(upperBound: UInt64(n))) }
            let (block, weights) = try problem.perSampleGradients(x: x, y: y, samples: samples)
            for (j, i) in samples.enumerated() {
                let reference = loopGradient(problem, y: y, sample: i)
                try c.expect(relativeError(block.column(j), reference) <= 1e-12, "sample \(i)")
                try c.expect(abs(weights[j] - 1 / (1 + exp(-x[i]))) <= 4 * Double.ulpOfOne, "weight of \(i)")
            }
        }
    }

    /// Backpropagation for one sample by loops, straight from the definitions.
    private func loopGradient(_ problem: MLPHyperCleaning, y: [Double], sample i: Int) -> [Double] {
        let network = problem.data
        let d = network.featureCount, h = network.hiddenWidth, k = network.classCount
        let a = network.inputs.column(i)  // d+1 entries, last = 1
        let split = (d + 1) * h
        var hidden = [Double](repeating: 1, count: h + 1)
        for r in 0..<h {
            var z = 0.0
            for c in 0...d { z += y[r + c * h] * a[c] }
            hidden[r] = tanh(z)
        }
        var s = [Double](repeating: 0, count: k)
        for r in 0..<k { for c in 0...h { s[r] += y[split + r + c * k] * hidden[c] } }
        let top = s.max()!
        let total = s.reduce(0) { $0 + exp($1 - top) }
        var delta2 = s.map { exp($0 - top) / total }
        delta2[network.labels[i]] -= 1
        var gradient = [Double](repeating: 0, count: problem.innerDimension)
        for r in 0..<h {
            var g = 0.0
            for q in 0..<k { g += y[split + q + r * k] * delta2[q] }
            let delta1 = g * (1 - hidden[r] * hidden[r])
            for c in 0...d { gradient[r + c * h] = delta1 * a[c] }
        }
        for r in 0..<k { for c in 0...h { gradient[split + r + c * k] = delta2[r] * hidden[c] } }
        return gradient
    }

    /// Sizes, the seeded Glorot initialisation, metrics on MNIST and typed errors.
    @Test func mnistSizesInitialisationMetricsAndErrors() throws {
        #expect(TanhNetwork.parameterCount(featureCount: 784, hiddenWidth: 128, classCount: 10) == 101_770)
        #expect(TanhNetwork.parameterCount(featureCount: 784, hiddenWidth: 1280, classCount: 10) == 1_017_610)
        var rng = Xoshiro256StarStar(seed: 41)
        let experiment = try CleaningExperiment<TanhNetwork>.mnist(hiddenWidth: 16, trainCount: 300, validationCount: 100,
                                                                   testCount: 100, using: &rng)
        let problem = experiment.problem
        #expect(problem.innerDimension == 785 * 16 + 17 * 10 && problem.outerDimension == 300)
        let y0 = problem.initialInner()
        #expect(y0 == problem.initialInner())  // seeded: the same every call
        let limit1 = (6.0 / Double(784 + 16)).squareRoot(), limit2 = (6.0 / Double(16 + 10)).squareRoot()
        let split = 785 * 16
        #expect(y0[0..<(784 * 16)].allSatisfy { abs($0) <= limit1 } && y0[(784 * 16)..<split].allSatisfy { $0 == 0 })
        #expect(y0[split..<(split + 160)].allSatisfy { abs($0) <= limit2 } && y0[(split + 160)...].allSatisfy { $0 == 0 })
        #expect(y0[0..<(784 * 16)].contains { abs($0) > limit1 / 2 })  // not degenerate

        let metrics = try problem.metrics(x: problem.initialOuter(), y: y0)
        #expect(Set(metrics.keys) == ["validation_loss", "validation_accuracy", "test_loss", "test_accuracy",
                                      "auroc", "mean_weight_clean", "mean_weight_corrupted"])
        #expect(metrics["auroc"] == 0.5)  // uniform weights: every score ties
        #expect(abs(metrics["validation_loss"]! - (try problem.outerValue(x: problem.initialOuter(), y: y0))) < 1e-15)
        // Oracle weights, a few full-batch gradient steps: the network learns above chance.
        let record = experiment.corruption
        let oracleX = record.changed.map { $0 ? -6.0 : 6.0 }
        #expect(try problem.metrics(x: oracleX, y: y0)["auroc"] == 1)
        var y = y0
        for _ in 0..<30 {
            let g = try problem.innerGradient(x: oracleX, y: y)
            BLAS.axpy(-0.5, g, &y)
        }
        let trained = try problem.metrics(x: oracleX, y: y)
        #expect(trained["validation_accuracy"]! > 0.4, "\(trained)")
        #expect(trained["validation_loss"]! < metrics["validation_loss"]!)

        // Typed errors at the doors: the estimators and the constructors.
        var cg = try ConjugateGradientHypergradient<MLPHyperCleaning>(iterations: 1)
        #expect(throws: BilevelError.self) { try cg.estimate(problem: problem, x: oracleX, y: [1, 2], using: &rng) }
        var bad = y
        bad[3] = .nan
        #expect(throws: BilevelError.nonFinite(operation: "cg", argument: "y")) {
            try cg.estimate(problem: problem, x: oracleX, y: bad, using: &rng)
        }
        let data = try Dataset(name: "x", features: Matrix(rows: 2, columns: 3, repeating: 1), labels: [0, 1, 0], classCount: 2)
        #expect(throws: BilevelError.self) { try MLPHyperCleaning(training: data, validation: data, hiddenWidth: 0, l2: 1) }
        #expect(throws: BilevelError.self) {
            try TanhNetwork(inputs: Matrix(rows: 2, columns: 3), labels: [0, 2, 0], classCount: 2, hiddenWidth: 1)
        }
        #expect(throws: BilevelError.self) { try MLPHyperCleaning(training: data, validation: data, hiddenWidth: 2, l2: -1) }
    }
}
