import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDBilevel
import NHGDExperiments

@Suite struct DataHyperCleaningProblemTests {
    @Test func oraclesPassFiniteDifferenceCheck() throws {
        try forAll("hyper-cleaning oracles", cases: 12) { c in
            let d = c.size(1...6), k = c.size(2...4), n = c.size(1...40), m = c.size(1...15)
            var rng = c.rng
            let problem = try randomCleaningProblem(d: d, k: k, n: n, m: m, l2: c.logUniform(in: 1e-3...1), using: &rng)
            let x = c.vector(count: n, in: -3...3), y = c.vector(count: problem.innerDimension)
            try expectOraclesPass(problem, at: x, y, checks: 14, context: "d=\(d) k=\(k) n=\(n) m=\(m)", in: &c)
        }
    }

    /// The BLAS per-sample gradients against the definition `gᵢ[j + c·d] = aᵢ[j]·(πᵢ[c] − [c = bᵢ])`
    /// evaluated by plain loops; both compute the same O(1)-sized products, so they agree to a
    /// few ulps (1e-13 relative).
    @Test func perSampleGradientsMatchDefinition() throws {
        try forAll("hyper-cleaning per-sample gradients", cases: 15) { c in
            let d = c.size(1...8), k = c.size(2...5), n = c.size(1...30)
            var rng = c.rng
            let problem = try randomCleaningProblem(d: d, k: k, n: n, m: 2, l2: 0.1, using: &rng)
            let dd = problem.data.featureCount
            let x = c.vector(count: n), y = c.vector(count: problem.innerDimension)
            let samples = (0..<c.size(0...12)).map { _ in c.int(in: 0...(n - 1)) }
            let (gradients, weights) = try problem.perSampleGradients(x: x, y: y, samples: samples)
            var reference = Matrix(rows: problem.innerDimension, columns: samples.count)
            for (j, i) in samples.enumerated() {
                let a = problem.data.inputs.column(i)
                let z = (0..<k).map { cls in (0..<dd).reduce(0.0) { $0 + y[$1 + cls * dd] * a[$1] } }
                let top = z.max()!
                let e = z.map { exp($0 - top) }
                let total = e.reduce(0, +)
                for cls in 0..<k {
                    let r = e[cls] / total - (Double(cls) == problem.data.targets[i] ? 1 : 0)
                    for f in 0..<dd { reference[f + cls * dd, j] = a[f] * r }
                }
                try c.expect(abs(weights[j] - 1 / (1 + exp(-x[i]))) <= 1e-15, "weight \(j)")
            }
            try c.expect(relativeError(gradients, reference) <= 1e-13, "gradients differ")
        }
    }

    /// End to end on a tiny problem: `∇Φ = −J H⁻¹∇_y f` at the Newton solution against central
    /// differences of Φ along random directions (the same error budget as the logistic test).
    @Test func hypergradientMatchesFiniteDifferenceOfHyperobjective() throws {
        try forAll("hyper-cleaning hypergradient end to end", cases: 6) { c in
            let d = c.size(1...3), k = c.size(2...3), n = c.size(4...20), m = c.size(3...10)
            var rng = c.rng
            let problem = try randomCleaningProblem(d: d, k: k, n: n, m: m, l2: 0.05, using: &rng)
            let x = c.vector(count: n, in: -2...2)
            c.note("d=\(d) k=\(k) n=\(n) m=\(m)")
            func phi(_ x: [Double]) throws -> Double {
                try problem.outerValue(x: x, y: problem.innerSolution(x: x, tolerance: 1e-13))
            }
            let yStar = try problem.innerSolution(x: x, tolerance: 1e-13)
            let u = try denseSolve(problem.hessian(x: x, y: yStar), problem.outerGradients(x: x, y: yStar).y)
            let analytic = try problem.crossProduct(x: x, y: yStar, u: u).map { -$0 }
            let h = cbrt(Double.ulpOfOne)
            for _ in 0..<3 {
                var w = c.vector(count: n)
                let norm = BLAS.norm(w)
                w = w.map { $0 / norm }
                let difference = (try phi(zip(x, w).map { $0 + h * $1 }) - phi(zip(x, w).map { $0 - h * $1 })) / (2 * h)
                let directional = BLAS.dot(analytic, w)
                try c.expect(abs(directional - difference) <= 1e-5 * max(BLAS.norm(analytic), 1e-3),
                             "directional \(directional) vs difference \(difference)")
            }
        }
    }

    @Test func aurocMatchesBruteForcePairCount() throws {
        try forAll("auroc vs pair count", cases: 40) { c in
            let n = c.size(2...200)
            let levels = c.size(1...6)  // few distinct scores: many ties
            let scores = (0..<n).map { _ in c.bool() ? Double(c.int(in: 0...levels)) : c.gaussian() }
            var labels = (0..<n).map { _ in c.bool() }
            labels[0] = true
            labels[1] = false
            var wins = 0.0
            var pairs = 0.0
            for i in 0..<n where labels[i] {
                for j in 0..<n where !labels[j] {
                    pairs += 1
                    wins += scores[i] > scores[j] ? 1 : (scores[i] == scores[j] ? 0.5 : 0)
                }
            }
            let value = try auroc(scores: scores, labels: labels)
            c.note("n=\(n) auroc=\(value) brute=\(wins / pairs)")
            // Both are sums of halves divided by one integer; rank sums are exact in Double.
            try c.expect(abs(value - wins / pairs) <= 1e-12, "auroc differs from pair count")
        }
        #expect(try auroc(scores: [1, 2, 3, 4], labels: [false, false, true, true]) == 1)
        #expect(try auroc(scores: [1, 1, 1], labels: [false, true, true]) == 0.5)
        #expect(throws: BilevelError.self) { try auroc(scores: [1, 2], labels: [true, true]) }
        #expect(throws: BilevelError.self) { try auroc(scores: [1, 2], labels: [true]) }
        #expect(throws: BilevelError.self) { try auroc(scores: [.nan, 2], labels: [true, false]) }
    }

    /// A small MNIST instance loads, evaluates, and trains: the metrics behave as the corruption
    /// record says they must.
    @Test func smallMNISTSubsetLoadsAndEvaluates() throws {
        var rng = Xoshiro256StarStar(seed: 31)
        let data = try shippedMNIST.get().scaled(by: 1.0 / 255).withBiasFeature()
        let experiment = try CleaningExperiment.make(from: data, trainCount: 200, validationCount: 100, testCount: 100,
                                                     corruptionFraction: 0.5, l2: 1e-3, using: &rng)
        let problem = experiment.problem, record = experiment.corruption
        #expect(problem.innerDimension == 7850 && problem.outerDimension == 200 && problem.data.outputCount == 10)
        #expect(problem.changedLabels == record.changed)
        #expect(record.replacedCount == 100)
        // Uniform weights: every score ties, AUROC exactly 1/2; y = 0 predicts class 0 everywhere.
        let y0 = problem.initialInner()
        let uniform = try problem.metrics(x: problem.initialOuter(), y: y0)
        #expect(Set(uniform.keys) == ["validation_loss", "validation_accuracy", "test_loss", "test_accuracy",
                                      "auroc", "mean_weight_clean", "mean_weight_corrupted"])
        #expect(uniform["auroc"] == 0.5 && abs(uniform["validation_loss"]! - log(10)) < 1e-12)
        // Oracle weights (σ(x) ≈ 0 exactly on the changed labels): AUROC 1.
        let oracleX = record.changed.map { $0 ? -6.0 : 6.0 }
        #expect(try problem.metrics(x: oracleX, y: y0)["auroc"] == 1)
        // Forty full-batch gradient steps with the oracle weights learn the digits well above
        // chance (0.1); the reference figure for the full-size problem is 0.85.
        var y = y0
        for _ in 0..<40 {
            let g = try problem.innerGradient(x: oracleX, y: y)
            BLAS.axpy(-1.0, g, &y)
        }
        let trained = try problem.metrics(x: oracleX, y: y)
        #expect(trained["validation_accuracy"]! > 0.5, "\(trained)")
        #expect(trained["validation_loss"]! < uniform["validation_loss"]!)
        // Oracle checks at this scale, where the BLAS block paths (256-sample blocks) are used.
        let report = try checkOracles(problem, at: oracleX.map { $0 / 6 }, y)
        #expect(report.errors["denseHessian"] == nil && report.errors.count == 12)  // p > maxDenseDimension
        #expect(report.passed(tolerance: oracleTolerance), "\(report)")
    }
}
