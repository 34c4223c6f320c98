import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDBilevel
import NHGDExperiments

@Suite struct SyntheticLogisticRegressionProblemTests {
    /// A random small problem and its dense twin: the same data as dense columns in a
    /// ``LogisticRegression`` (the dense reference whose oracles are tested in their own file).
    private func problemAndDenseTwin(
        _ c: inout PropertyCase
    ) throws -> (SyntheticLogisticRegression, LogisticRegression) {
        let p = c.size(1...40), n = c.size(1...60), m = c.size(1...20)
        let s = c.int(in: 1...min(p, 8))
        var rng = c.rng.split()
        let problem = try SyntheticLogisticRegression.make(p: p, n: n, m: m, nonzerosPerSample: s, using: &rng)
        c.note("p=\(p) n=\(n) m=\(m) s=\(s)")
        let dense = try LogisticRegression(
            trainingInputs: problem.data.inputs.denseColumns(), trainingLabels: problem.data.targets,
            validationInputs: problem.outer.data.inputs.denseColumns(), validationLabels: problem.outer.data.targets)
        return (problem, dense)
    }

    @Test func oraclesPassFiniteDifferenceCheck() throws {
        try forAll("synthetic logistic oracles", cases: 15) { c in
            let (problem, _) = try problemAndDenseTwin(&c)
            let p = problem.innerDimension
            let x = c.vector(count: p, in: -2...2), y = c.vector(count: p)
            try expectOraclesPass(problem, at: x, y, checks: 14, in: &c)
        }
    }

    /// Every oracle equals the dense ``LogisticRegression`` on the densified data. They differ
    /// only in summation order: a logit `z = aᵀy` (≤ 8 terms of size O(1)) moves by a few ε·Σ|aⱼyⱼ|,
    /// which moves `σ(z) − b` by at most a quarter of that; relative to a coefficient that is at
    /// least σ(−|z|) ≳ 10⁻³ for the |z| ≲ 7 drawn here, that is ≲ 10⁻¹²; 1e-10 leaves headroom,
    /// while a wrong oracle (a missing sample, a sign, a wrong scale) errs by O(1).
    @Test func oraclesMatchDenseLogisticRegression() throws {
        try forAll("synthetic logistic vs dense twin", cases: 20) { c in
            let (problem, dense) = try problemAndDenseTwin(&c)
            let p = problem.innerDimension, n = problem.trainingCount
            let x = c.vector(count: p, in: -2...2), y = c.vector(count: p), v = c.vector(count: p)
            let tolerance = 1e-10
            func expectClose(_ a: [Double], _ b: [Double], _ what: String) throws {
                let error = relativeError(a, b)
                try c.expect(error <= tolerance || maxAbsDifference(a, b) <= 1e-14, "\(what): relative error \(error)")
            }
            let samples = (0..<c.int(in: 1...6)).map { _ in c.int(in: 0...(n - 1)) }
            let coefficients = c.gaussianMatrix(rows: samples.count, columns: c.int(in: 1...3))
            var sparseBlock = Matrix(rows: p, columns: coefficients.columns, repeating: .nan)  // stale contents are overwritten
            var denseBlock = Matrix(rows: p, columns: coefficients.columns)
            try problem.data.gradientCombinations(at: y, samples: samples, coefficients: coefficients, into: &sparseBlock)
            try dense.data.gradientCombinations(at: y, samples: samples, coefficients: coefficients, into: &denseBlock)
            try expectClose(sparseBlock.storage, denseBlock.storage, "gradient combinations")
            try expectClose(try problem.data.gradientProjections(at: y, along: v, samples: samples),
                            try dense.data.gradientProjections(at: y, along: v, samples: samples), "projections")
            try expectClose(try problem.data.losses(at: y, samples: samples),
                            try dense.data.losses(at: y, samples: samples), "per-sample losses")
            try expectClose([try problem.innerValue(x: x, y: y)], [try dense.innerValue(x: x, y: y)], "inner value")
            try expectClose([try problem.outerValue(x: x, y: y)], [try dense.outerValue(x: x, y: y)], "outer value")
            let (sparseFx, sparseFy) = try problem.outerGradients(x: x, y: y)
            let (denseFx, denseFy) = try dense.outerGradients(x: x, y: y)
            try c.expect(sparseFx == denseFx, "∇ₓf")
            try expectClose(sparseFy, denseFy, "∇ᵧf")
            var sparseHv = [Double](repeating: 0, count: p), denseHv = sparseHv
            for batch in [nil, samples] as [[Int]?] {
                try problem.hessianVectorProduct(x: x, y: y, v: v, samples: batch, into: &sparseHv)
                try dense.hessianVectorProduct(x: x, y: y, v: v, samples: batch, into: &denseHv)
                try expectClose(sparseHv, denseHv, "Hv on \(batch.map { "\($0)" } ?? "all samples")")
            }
            try expectClose(try problem.hessian(x: x, y: y).storage, try dense.hessian(x: x, y: y).storage, "dense H")
            try expectClose(try problem.crossProduct(x: x, y: y, u: v), try dense.crossProduct(x: x, y: y, u: v), "J u")
            try expectClose(try problem.innerGradient(x: x, y: y, samples: samples),
                            try dense.innerGradient(x: x, y: y, samples: samples), "minibatch ∇g")
            let sparseMetrics = try problem.metrics(x: x, y: y), denseMetrics = try dense.metrics(x: x, y: y)
            try c.expect(Set(sparseMetrics.keys) == ["validation_loss", "validation_accuracy"], "metric keys")
            try expectClose([sparseMetrics["validation_loss"]!], [denseMetrics["validation_loss"]!], "validation loss")
            // Accuracy can differ only where a logit is within rounding of 0, which has probability 0.
            try c.expect(sparseMetrics["validation_accuracy"] == denseMetrics["validation_accuracy"], "accuracy")
        }
    }

    /// The generator's structure: s distinct sorted positions per sample, values `N(0, 1/s)`
    /// (so the mean of ‖aᵢ‖² over n·s values is 1 ± 4·√(2/(n·s)) at 4 standard deviations),
    /// labels 0/1 from the planted parameter (true logits with standard deviation 2: the sample
    /// variance of n = 4000 logits is within 4 ± 0.8, about 4.5 standard errors for the heavy-tailed
    /// product of a sparse row and a sparse planted vector), support a tenth of p.
    @Test func generatorHasTheDocumentedStatistics() throws {
        var rng = Xoshiro256StarStar(seed: 41)
        let (p, n, s) = (500, 4000, 20)
        let problem = try SyntheticLogisticRegression.make(p: p, n: n, m: 100, nonzerosPerSample: s, using: &rng)
        let a = problem.data.inputs
        #expect(a.rowStarts == (0...n).map { $0 * s })
        #expect(problem.outer.data.inputs.rowStarts.last == 100 * s)
        for i in 0..<n {
            let row = Array(a.featureIndices[a.rowStarts[i]..<a.rowStarts[i + 1]])
            #expect(row == Array(Set(row)).sorted() && row.allSatisfy { (0..<p).contains($0) })
        }
        let meanSquare = a.values.reduce(0) { $0 + $1 * $1 } / Double(n)
        #expect(abs(meanSquare - 1) <= 4 * (2.0 / Double(n * s)).squareRoot())
        #expect(problem.generatingParameters.filter { $0 != 0 }.count == p / 10)
        #expect(Set(problem.data.targets + problem.outer.data.targets).isSubset(of: [0, 1]))
        let logits = problem.generatingParameters.withUnsafeBufferPointer { t in (0..<n).map { a.dot($0, t) } }
        let variance = logits.reduce(0) { $0 + $1 * $1 } / Double(n)
        #expect(abs(variance - 4) <= 0.8, "true-logit variance \(variance)")
        // Labels follow σ(true logit): the residuals bᵢ − σ(zᵢ) have mean 0 and variance ≤ 1/4,
        // so their mean lies within 4·(1/2)/√n ≈ 0.032 of 0.
        let residual = (0..<n).reduce(0.0) { $0 + problem.data.targets[$1] - logistic(logits[$1]) } / Double(n)
        #expect(abs(residual) <= 4 * 0.5 / Double(n).squareRoot())
        // The planted parameter classifies better than chance on validation.
        #expect(try problem.metrics(x: problem.initialOuter(), y: problem.generatingParameters)["validation_accuracy"]! > 0.6)
        // Same seed, same problem.
        var again = Xoshiro256StarStar(seed: 41)
        let twin = try SyntheticLogisticRegression.make(p: p, n: n, m: 100, nonzerosPerSample: s, using: &again)
        #expect(twin.data.inputs == a && twin.data.targets == problem.data.targets)
    }

    /// A million parameters in O(n·s + p) memory: generation and the per-sample and
    /// Hessian-vector oracles touch only the nonzeros and O(p) vectors.
    @Test func millionParameterProblemIsCheap() throws {
        var rng = Xoshiro256StarStar(seed: 42)
        let p = 1_000_000
        let problem = try SyntheticLogisticRegression.make(p: p, n: 50, m: 10, nonzerosPerSample: 16, using: &rng)
        #expect(problem.data.inputs.values.count == 50 * 16 && problem.data.inputs.featureIndices.count == 50 * 16)
        let x = problem.initialOuter(), y = problem.generatingParameters
        let a = problem.data.inputs
        var block = Matrix(rows: p, columns: 2, repeating: 7)
        try problem.data.gradientCombinations(at: y, samples: [3, 1], coefficients: .identity(2), into: &block)
        // Column j holds (σ(aᵢᵀy) − bᵢ)·aᵢ at the sample's positions and zeros elsewhere (the
        // stale 7s are gone); the logit is summed in the same order, so equality is exact.
        for (j, i) in [3, 1].enumerated() {
            let range = a.rowStarts[i]..<a.rowStarts[i + 1]
            let z = range.reduce(0.0) { $0 + a.values[$1] * y[a.featureIndices[$1]] }
            let coefficient = logistic(z) - problem.data.targets[i]
            var expected = [Double](repeating: 0, count: p)
            for k in range { expected[a.featureIndices[k]] = coefficient * a.values[k] }
            #expect(block.column(j) == expected)
        }
        #expect(problem.sampleWeights(x: x, samples: [3, 1]) == [1, 1])
        #expect(throws: BilevelError.exceedsMemoryBudget(method: "dense \(p)×\(p) Hessian", bytesNeeded: p * p * 8,
                                                          bytesAllowed: 1 << 30)) {
            try problem.hessian(x: x, y: y)
        }
    }

    /// `∇Φ = −J H⁻¹ ∇_y f` at the Newton solution equals a central difference of `Φ(x) = f(x, y*(x))`
    /// (tolerance argued as in the dense logistic test: inner tolerance 1e-13 perturbs Φ by ≲ 1e-11,
    /// divided by 2h ≈ 1.2e-5 that is ≲ 1e-6, so 1e-5 relative to max(‖∇Φ‖, 1e-3)).
    @Test func hypergradientMatchesFiniteDifferenceOfHyperobjective() throws {
        try forAll("synthetic logistic hypergradient end to end", cases: 8) { c in
            let p = c.size(1...6), n = c.size(5...60), m = c.size(3...20), s = c.int(in: 1...min(p, 3))
            var rng = c.rng.split()
            let problem = try SyntheticLogisticRegression.make(p: p, n: n, m: m, nonzerosPerSample: s, using: &rng)
            let x = c.vector(count: p, in: -1...1)
            c.note("p=\(p) n=\(n) m=\(m) s=\(s) x=\(x)")
            func phi(_ x: [Double]) throws -> Double {
                try problem.outerValue(x: x, y: problem.innerSolution(x: x, tolerance: 1e-13))
            }
            let yStar = try problem.innerSolution(x: x, tolerance: 1e-13)
            let u = try denseSolve(problem.hessian(x: x, y: yStar), problem.outerGradients(x: x, y: yStar).y)
            let analytic = try problem.crossProduct(x: x, y: yStar, u: u).map { -$0 }
            let h = cbrt(Double.ulpOfOne)
            var difference = [Double](repeating: 0, count: p)
            for j in 0..<p {
                var plus = x, minus = x
                plus[j] += h
                minus[j] -= h
                difference[j] = (try phi(plus) - phi(minus)) / (2 * h)
            }
            let error = BLAS.norm(zip(analytic, difference).map { $0 - $1 })
            try c.expect(error <= 1e-5 * max(BLAS.norm(analytic), 1e-3), "\(analytic) vs \(difference)")
        }
    }

    @Test func badInputIsRejected() throws {
        var rng = Xoshiro256StarStar(seed: 43)
        for (p, n, m, s) in [(0, 5, 5, 1), (5, 0, 5, 1), (5, 5, 0, 1), (5, 5, 5, 0), (5, 5, 5, 6)] {
            #expect(throws: BilevelError.self) {
                try SyntheticLogisticRegression.make(p: p, n: n, m: m, nonzerosPerSample: s, using: &rng)
            }
        }
        typealias Samples = SparseSamples
        #expect(throws: BilevelError.self) { try Samples(featureCount: 0, rowStarts: [0], featureIndices: [], values: []) }
        #expect(throws: BilevelError.self) { try Samples(featureCount: 3, rowStarts: [0, 2], featureIndices: [0], values: [1]) }
        #expect(throws: BilevelError.self) { try Samples(featureCount: 3, rowStarts: [0, 1], featureIndices: [3], values: [1]) }
        #expect(throws: BilevelError.self) { try Samples(featureCount: 3, rowStarts: [0, 2], featureIndices: [1, 1], values: [1, 1]) }
        #expect(throws: BilevelError.self) { try Samples(featureCount: 3, rowStarts: [0, 2, 1], featureIndices: [0], values: [1]) }
        #expect(throws: BilevelError.self) { try Samples(featureCount: 3, rowStarts: [0, 1], featureIndices: [0], values: [.nan]) }
        let a = try Samples(featureCount: 3, rowStarts: [0, 1, 3], featureIndices: [2, 0, 1], values: [1, -1, 2])
        #expect(a.denseColumns().storage == [0, 0, 1, -1, 2, 0])
        #expect(throws: BilevelError.self) {
            try SyntheticLogisticRegression(training: a, trainingLabels: [0, 2], validation: a, validationLabels: [0, 1])
        }
        #expect(throws: BilevelError.self) {
            try SyntheticLogisticRegression(training: a, trainingLabels: [0], validation: a, validationLabels: [0, 1])
        }
        let problem = try SyntheticLogisticRegression(training: a, trainingLabels: [0, 1], validation: a,
                                                      validationLabels: [1, 0])
        // Bad points are refused at the door, before any oracle runs.
        var cg = try ConjugateGradientHypergradient<SyntheticLogisticRegression>()
        #expect(throws: BilevelError.self) {
            try cg.estimate(problem: problem, x: problem.initialOuter(), y: [0, .infinity, 0], using: &rng)
        }
        #expect(throws: BilevelError.self) { try checkOracles(problem, at: [0], [0, 0, 0]) }
    }
}
