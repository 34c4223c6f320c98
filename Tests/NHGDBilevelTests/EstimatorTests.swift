import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDSketches
@testable import NHGDBilevel
import NHGDTestSupport

/// Estimators against the closed-form ridge hypergradient (ALGORITHMS.md §7).
///
/// Conditioning: with `x ∈ [−1, 1]^d` the regulariser's curvature `e^x ∈ [0.37, 2.7]`, and the
/// data Hessian `AAᵀ/(n s²)` of Gaussian inputs with n ≥ 4d has eigenvalues within a small
/// factor of `1/s²`; so κ(H) stays below a few hundred and every tolerance below is far above
/// κ·eps ≈ 1e-13 (the rounding floor of a backward-stable solve).
@Suite struct EstimatorTests {
    /// A ridge problem with d ∈ 2…`maxD`, n = 8d training samples, and a point x ∈ [−1, 1]^d
    /// with y = y*(x).
    static func ridgeCase(_ c: inout PropertyCase, maxD: Int = 24, noise: Double = 1)
        throws -> (RidgeRegression, [Double], [Double]) {
        let d = c.size(2...maxD)
        let problem = try RidgeRegression.synthetic(n: 8 * d, m: 4 * d, d: d, noise: noise, using: &c.rng)
        let x = c.vector(count: d, in: -1...1)
        let y = try problem.solveInner(x: x)
        c.note("d = \(d)")
        return (problem, x, y)
    }

    @Test func exactMatchesClosedForm() throws {
        try forAll("exact hypergradient = closed form", cases: 40) { c in
            let (problem, x, y) = try Self.ridgeCase(&c)
            var estimator = try ExactHypergradient<RidgeRegression>()
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let reference = try problem.exactHypergradient(x: x)
            let error = relativeError(estimate.hypergradient, reference)
            // Same formula through the same Cholesky factor: only rounding (κ·eps ≪ 1e-10) separates them.
            try c.expect(error <= 1e-10, "relative error \(error)")
            try c.expect(estimate.oracleCalls.crossProducts == 1 && estimate.oracleCalls.outerGradients == 1,
                         "oracle counts \(estimate.oracleCalls)")
        }
    }

    @Test func exactByHessianVectorProductsMatchesClosedForm() throws {
        try forAll("exact via p HVPs = closed form", cases: 20) { c in
            let (problem, x, y) = try Self.ridgeCase(&c)
            var estimator = try ExactHypergradient<RidgeRegression>(assembly: .hessianVectorProducts)
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let error = relativeError(estimate.hypergradient, try problem.exactHypergradient(x: x))
            try c.expect(error <= 1e-10, "relative error \(error)")
            try c.expect(estimate.oracleCalls.hessianVectorProducts == problem.innerDimension, "p HVPs")
        }
    }

    @Test func conjugateGradientWithPIterationsMatchesExact() throws {
        var boundedAtP = 0
        try forAll("CG with K = p = exact", cases: 40) { c in
            let (problem, x, y) = try Self.ridgeCase(&c)
            var estimator = try ConjugateGradientHypergradient<RidgeRegression>(
                iterations: problem.innerDimension, tolerance: 1e-14, warmStart: false)
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let error = relativeError(estimate.hypergradient, try problem.exactHypergradient(x: x))
            // CG terminates in p steps in exact arithmetic; with κ ≤ a few hundred the residual
            // reaches 1e-14·‖b‖ long before, so the error is ≲ κ·1e-14 ≪ 1e-8.
            try c.expect(error <= 1e-8, "relative error \(error)")
            if let bound = estimate.errorBound {
                boundedAtP += 1
                let uError = relativeError(estimate.solution, try denseSolve(problem.hessian(x: x, y: y),
                                                                             problem.outerGradients(x: x, y: y).y))
                try c.expect(uError <= bound + 1e-12, "u error \(uError) above its bound \(bound)")
            }
        }
        // The bound exists when ‖u‖ > ‖r‖/μ; it did in 40 of 40 cases on six base seeds. At
        // least half must have one, or the check above proves nothing.
        #expect(boundedAtP >= 20, "only \(boundedAtP) of 40 estimates carried an error bound")
    }

    @Test func conjugateGradientErrorBoundHoldsWhenTruncated() throws {
        var bounded = 0
        try forAll("CG a-posteriori bound", cases: 40) { c in
            let (problem, x, y) = try Self.ridgeCase(&c)
            var estimator = try ConjugateGradientHypergradient<RidgeRegression>(iterations: 2, warmStart: false)
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let exactU = try denseSolve(problem.hessian(x: x, y: y), problem.outerGradients(x: x, y: y).y)
            let error = relativeError(estimate.solution, exactU)
            if let bound = estimate.errorBound {
                bounded += 1
                // The dense reference itself carries a relative error of order κ·eps ≲ 1e-13.
                try c.expect(error <= bound * (1 + 1e-9) + 1e-12, "u error \(error) above the bound \(bound)")
            }
        }
        // As above: 40 of 40 on six base seeds; at least half must carry a bound.
        #expect(bounded >= 20, "only \(bounded) of 40 truncated estimates carried an error bound")
    }

    @Test func neumannWithEnoughTermsMatchesExact() throws {
        try forAll("Neumann with Q terms = exact", cases: 15) { c in
            let (problem, x, y) = try Self.ridgeCase(&c, maxD: 12)
            let eigen = try SymmetricEigendecomposition(problem.hessian(x: x, y: y))
            let (mu, lipschitz) = (eigen.values.first!, eigen.values.last!)
            // Truncation error (1 − μ/L)^{Q+1} ≤ 1e-10 with η = 1/L.
            let terms = Int((log(1e-10) / log1p(-mu / lipschitz)).rounded(.up))
            var estimator = try NeumannHypergradient<RidgeRegression>(terms: terms, stepSize: 1 / lipschitz)
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let error = relativeError(estimate.hypergradient, try problem.exactHypergradient(x: x))
            c.note("Q = \(terms), κ = \(lipschitz / mu)")
            try c.expect(error <= 1e-8, "relative error \(error)")
            try c.expect(estimate.oracleCalls.hessianVectorProducts == terms, "Q HVPs")
        }
    }

    @Test func amigoConvergesToExactWhenWarmStarted() throws {
        try forAll("AmIGO warm-started → exact", cases: 10) { c in
            let (problem, x, y) = try Self.ridgeCase(&c, maxD: 10)
            let eigen = try SymmetricEigendecomposition(problem.hessian(x: x, y: y))
            let (mu, lipschitz) = (eigen.values.first!, eigen.values.last!)
            var estimator = try AmIGOHypergradient<RidgeRegression>(steps: 50, stepSize: 1 / lipschitz)
            var estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            // Gradient descent on the quadratic contracts by (1 − μ/L) per step; warm starts add up.
            let rounds = Int((log(1e-10) / log1p(-mu / lipschitz) / 50).rounded(.up))
            for _ in 0..<rounds { estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng) }
            let error = relativeError(estimate.hypergradient, try problem.exactHypergradient(x: x))
            try c.expect(error <= 1e-8, "relative error \(error) after \(rounds + 1) warm-started rounds")
        }
    }

    /// Feeds every training gradient at y to the estimator in blocks (running mean: F = mean gᵢgᵢᵀ).
    static func observeAll<S: FisherSketch>(
        _ estimator: inout NaturalHypergradient<RidgeRegression, S>, _ problem: RidgeRegression, y: [Double],
        block: Int = 50
    ) throws {
        let n = problem.trainingCount
        var start = 0, blocks = 0
        while start < n {
            let count = min(block, n - start)
            let (g, w) = try problem.perSampleGradients(x: problem.initialOuter(), y: y, samples: Array(start..<start + count))
            blocks += 1
            try estimator.observe(perSample: g, weights: w, forgetting: ForgettingSchedule.runningMean.factor(forBlock: blocks))
            start += count
        }
    }

    /// Well-specified linear-Gaussian model, n = 40 000 ≫ d = 10, weak regularisation (x = −3).
    /// Three checks:
    /// - The solve: with the dense Fisher, NHGD's u is exactly `F̂⁻¹∇ᵧf` for `F̂ = F_emp + diag(e^x)`;
    ///   against the true Hessian `H` its error is what the Fisher's deviation `E = F̂ − H`
    ///   explains, `‖û − u‖ ≤ ‖E‖₂/(μ − ‖E‖₂)·‖u‖` with μ = λ_min(H) (from
    ///   `F̂⁻¹ − H⁻¹ = −F̂⁻¹ E H⁻¹`), plus κ(H)·1e-12 for the two dense solves' rounding.
    /// - Consistency: `(1/n)Σ rᵢ² aᵢaᵢᵀ/s⁴` concentrates on `AAᵀ/(n s²)`. Its entries deviate
    ///   with standard deviation ≈ √(E[χ₁⁴]E[a⁴]/n)/s² = 3/(√n s²) (χ² residuals, Gaussian
    ///   inputs), so ‖E‖₂ ≈ 2√d·3/√n·(1/s²) ≈ 0.1‖H‖₂ at worst (≤ 0.065 over 300 cases); the test
    ///   requires ‖E‖₂ ≤ 0.5‖H‖₂.
    /// - The issue's headline property, cosine ≥ 0.99 between NHGD's hypergradient and the
    ///   exact one. The hypergradient error scales like ‖E‖ ∝ 1/√n, so 1 − cos ∝ 1/n: at
    ///   n = 4000 the worst of 40 base seeds gave 0.9896 (seed 15); at n = 40 000 the worst of
    ///   300 cases (`NHGD_PROPERTY_CASES=300`) gave 0.9980: 1 − cos ≤ 0.002, a fivefold margin.
    @Test func naturalHypergradientWithDenseFisherIsConsistent() throws {
        try forAll("NHGD(dense Fisher) ≈ exact", cases: 6) { c in
            let d = 10
            let problem = try RidgeRegression.synthetic(n: 40_000, m: 200, d: d, noise: 0.5, using: &c.rng)
            let x = [Double](repeating: -3, count: d)
            let y = try problem.solveInner(x: x)
            var estimator = try NaturalHypergradient<RidgeRegression, DenseFisher>(
                sketch: DenseFisher(dimension: d), damping: 0)
            try Self.observeAll(&estimator, problem, y: y)
            let estimate = try estimator.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let hessian = try problem.hessian(x: x, y: y)
            let fisher = try estimator.sketch.lowRankPlusDiagonal(adding: x.map(exp)).materialized()
            var deviation = fisher
            BLAS.axpy(-1, hessian.storage, &deviation.storage)
            let deviationValues = try SymmetricEigendecomposition(deviation).values
            let deviationNorm = max(abs(deviationValues.first!), abs(deviationValues.last!))
            let hessianValues = try SymmetricEigendecomposition(hessian).values
            let (mu, largest) = (hessianValues.first!, hessianValues.last!)
            c.note("‖E‖₂/‖H‖₂ = \(deviationNorm / largest), ‖E‖₂/μ = \(deviationNorm / mu)")
            try c.expect(deviationNorm <= 0.5 * largest, "the empirical Fisher is far from H")
            let outerGradient = try problem.outerGradients(x: x, y: y).y
            // Solving with F̂ itself: two backward-stable solves, each off by ≲ κ(F̂)·p·eps.
            let fisherValues = try SymmetricEigendecomposition(fisher).values
            let fisherCondition = fisherValues.last! / fisherValues.first!
            let fisherError = relativeError(estimate.solution, try denseSolve(fisher, outerGradient))
            try c.expect(fisherError <= 2 * fisherCondition * 1e-12, "u differs from F̂⁻¹∇ᵧf by \(fisherError)")
            let exactSolution = try denseSolve(hessian, outerGradient)
            let error = relativeError(estimate.solution, exactSolution)
            let bound = deviationNorm < mu ? deviationNorm / (mu - deviationNorm) + (largest / mu) * 1e-12 : .infinity
            try c.expect(error <= bound, "‖û − u‖/‖u‖ = \(error) > \(bound)")
            let exact = try problem.exactHypergradient(x: x)
            let cosine = BLAS.dot(estimate.hypergradient, exact)
                / (BLAS.norm(estimate.hypergradient) * BLAS.norm(exact))
            c.note("cosine \(cosine)")
            try c.expect(cosine >= 0.99, "cosine with the exact hypergradient \(cosine) < 0.99")
            try c.expect(estimate.errorBound == 0, "the dense Fisher has no sketching error")
            try c.expect(estimate.oracleCalls.hessianVectorProducts == 0, "NHGD spends no HVPs")
        }
    }

    @Test func naturalHypergradientSketchErrorWithinCertificate() throws {
        try forAll("NHGD(FD) within its certificate of NHGD(dense)", cases: 30) { c in
            let d = c.size(6...40)
            let rank = c.int(in: 1...max(1, d / 3))
            let problem = try RidgeRegression.synthetic(n: 10 * d, m: 2 * d, d: d, noise: 1, using: &c.rng)
            let x = c.vector(count: d, in: -1...1)
            let y = try problem.solveInner(x: x)
            let damping = c.double(in: 0...0.1)
            let compensation: DiagonalCompensation = [.none, .scalar, .residualDiagonal][c.int(in: 0...2)]
            c.note("d = \(d), ℓ = \(rank), λ = \(damping), \(compensation)")
            var sketched = try NaturalHypergradient<RidgeRegression, FrequentDirectionsSketch>(
                sketch: FrequentDirectionsSketch(dimension: d, rank: rank, compensation: compensation),
                damping: damping)
            var dense = try NaturalHypergradient<RidgeRegression, DenseFisher>(
                sketch: DenseFisher(dimension: d), damping: damping)
            try Self.observeAll(&sketched, problem, y: y, block: 7)
            try Self.observeAll(&dense, problem, y: y, block: 7)
            let a = try sketched.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let b = try dense.estimate(problem: problem, x: x, y: y, using: &c.rng)
            let error = relativeError(a.solution, b.solution)
            let bound = try #require(a.errorBound)
            // The certificate is a worst-case bound; allow rounding of two solves (κ·eps ≪ 1e-10).
            try c.expect(error <= bound + 1e-10, "error \(error) above the certificate \(bound)")
        }
    }

    /// Every estimator, at a point of the wrong length or with NaN/∞ in it, throws the typed
    /// error naming the argument, before any oracle runs; NHGD's `observe` refuses a block with
    /// the wrong row count, a NaN or a bad β and leaves its sketch as it was.
    @Test func everyEstimatorRejectsBadPointsWithTypedErrors() throws {
        var rng = Xoshiro256StarStar(seed: 11)
        let problem = try RidgeRegression.synthetic(n: 40, m: 10, d: 5, noise: 1, using: &rng)
        let x = problem.initialOuter(), y = problem.initialInner()
        let p = problem.innerDimension, q = problem.outerDimension
        let estimators: [(String, any HypergradientEstimator<RidgeRegression>)] = [
            ("ExactHypergradient", try ExactHypergradient<RidgeRegression>()),
            ("ConjugateGradientHypergradient", try ConjugateGradientHypergradient<RidgeRegression>()),
            ("NeumannHypergradient", try NeumannHypergradient<RidgeRegression>(stepSize: 0.1)),
            ("AmIGOHypergradient", try AmIGOHypergradient<RidgeRegression>(stepSize: 0.1)),
            ("SOBAHypergradient", try SOBAHypergradient<RidgeRegression>(stepSize: 0.1)),
            ("QuasiNewtonHypergradient", try QuasiNewtonHypergradient<RidgeRegression>()),
            ("CurvatureAwareHypergradient", try CurvatureAwareHypergradient<RidgeRegression>()),
            ("NaturalHypergradient", try NaturalHypergradient<RidgeRegression, FrequentDirectionsSketch>(
                sketch: FrequentDirectionsSketch(dimension: p, rank: 2))),
        ]
        func poisoned(_ v: [Double], _ value: Double) -> [Double] { var w = v; w[w.count / 2] = value; return w }
        for (_, prototype) in estimators {
            let operation = prototype.name
            func rejects(_ x: [Double], _ y: [Double], _ expected: BilevelError) {
                var estimator = prototype
                var local = Xoshiro256StarStar(seed: 1)
                #expect(throws: expected, "\(operation)") {
                    try estimator.estimate(problem: problem, x: x, y: y, using: &local)
                }
            }
            rejects(Array(x.dropLast()), y, .dimensionMismatch(operation: operation, expected: "x of length \(q)",
                                                               actual: "length \(q - 1)"))
            rejects(x, y + [0], .dimensionMismatch(operation: operation, expected: "y of length \(p)", actual: "length \(p + 1)"))
            rejects(poisoned(x, .nan), y, .nonFinite(operation: operation, argument: "x"))
            rejects(x, poisoned(y, .infinity), .nonFinite(operation: operation, argument: "y"))
            rejects(x, poisoned(y, -.infinity), .nonFinite(operation: operation, argument: "y"))
        }

        var nhgd = try NaturalHypergradient<RidgeRegression, FrequentDirectionsSketch>(
            sketch: FrequentDirectionsSketch(dimension: p, rank: 2))
        let (block, weights) = try problem.perSampleGradients(x: x, y: y, samples: [0, 1, 2])
        try nhgd.observe(perSample: block, weights: weights, forgetting: 1)
        let before = nhgd.sketch
        var withNaN = block
        withNaN[1, 2] = .nan
        #expect(throws: LinearAlgebraError.self) { try nhgd.observe(Matrix(rows: p + 1, columns: 3), columns: 0..<3, forgetting: 0.5) }
        #expect(throws: LinearAlgebraError.self) { try nhgd.observe(withNaN, columns: 0..<3, forgetting: 0.5) }
        #expect(throws: LinearAlgebraError.self) { try nhgd.observe(block, columns: 0..<3, forgetting: 0) }
        #expect(throws: LinearAlgebraError.self) { try nhgd.observe(block, columns: 2..<4, forgetting: 0.5) }
        #expect(nhgd.sketch == before, "a refused block changed the sketch")
    }

    @Test func estimatorsRejectBadPointsAndHyperparameters() throws {
        var rng = Xoshiro256StarStar(seed: 7)
        let problem = try RidgeRegression.synthetic(n: 40, m: 10, d: 5, noise: 1, using: &rng)
        let x = problem.initialOuter(), y = problem.initialInner()
        var cg = try ConjugateGradientHypergradient<RidgeRegression>()
        #expect(throws: BilevelError.self) { try cg.estimate(problem: problem, x: [0, 0], y: y, using: &rng) }
        #expect(throws: BilevelError.nonFinite(operation: "cg", argument: "y")) {
            try cg.estimate(problem: problem, x: x, y: [.nan, 0, 0, 0, 0], using: &rng)
        }
        #expect(throws: BilevelError.self) { try ConjugateGradientHypergradient<RidgeRegression>(iterations: 0) }
        #expect(throws: BilevelError.self) { try NeumannHypergradient<RidgeRegression>(terms: 5, stepSize: 0) }
        #expect(throws: BilevelError.self) { try AmIGOHypergradient<RidgeRegression>(steps: 5, stepSize: -.infinity) }
        #expect(throws: BilevelError.self) { try ExactHypergradient<RidgeRegression>(memoryBudget: 0) }
        #expect(throws: BilevelError.self) {
            try NaturalHypergradient<RidgeRegression, DenseFisher>(sketch: DenseFisher(dimension: 5), damping: -1)
        }
        #expect(throws: BilevelError.self) {
            try NaturalHypergradient<RidgeRegression, DenseFisher>(
                sketch: DenseFisher(dimension: 5),
                columns: CurvatureColumnRequest(compression: .none, forgetting: .constant(1.5)))
        }
        #expect(throws: BilevelError.self) {
            try NaturalHypergradient<RidgeRegression, DenseFisher>(
                sketch: DenseFisher(dimension: 5), columns: CurvatureColumnRequest(compression: .none, interval: 0))
        }
        #expect(throws: BilevelError.self) {
            try NaturalHypergradient<RidgeRegression, DenseFisher>(
                sketch: DenseFisher(dimension: 5), columns: CurvatureColumnRequest(compression: .gaussian(columns: 0)))
        }
        var mismatched = try NaturalHypergradient<RidgeRegression, DenseFisher>(sketch: DenseFisher(dimension: 4))
        #expect(throws: BilevelError.self) { try mismatched.estimate(problem: problem, x: x, y: y, using: &rng) }
        var tooSmall = try ExactHypergradient<RidgeRegression>(memoryBudget: 8)
        do {
            _ = try tooSmall.estimate(problem: problem, x: x, y: y, using: &rng)
            Issue.record("the exact estimator accepted a Hessian beyond its budget")
        } catch let error as BilevelError {
            #expect(error == .exceedsMemoryBudget(method: "exact hypergradient (dense 5×5 Hessian)",
                                                   bytesNeeded: 200, bytesAllowed: 8))
            #expect(error.description.contains("200 B"))
        }
    }
}
