import Foundation
import NHGDBilevel
import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// A random problem and hyperparameters x around 0.1 regularisation for a property case.
/// n ≥ 2p keeps `A Aᵀ/n` well inside the Marchenko–Pastur bulk, so κ(H) stays below ~100.
private func randomRidgeCase(_ c: inout PropertyCase, maxDimension: Int = 10) -> (LeastSquaresProblem, [Double]) {
    let p = c.size(1...maxDimension)
    let n = 2 * p + c.int(in: 4...30), m = c.int(in: 5...30)
    var rng = c.rng.split()
    let problem = LeastSquaresProblem.random(p: p, n: n, m: m, using: &rng)
    let x = (0..<p).map { _ in log(c.double(in: 0.05...1)) }
    c.note("p=\(p) n=\(n) m=\(m) e^x=\(x.map { exp($0) })")
    return (problem, x)
}

/// `√((a − b)ᵀ H (a − b))`.
private func hNormDistance(_ h: Matrix, _ a: [Double], _ b: [Double]) -> Double {
    let e = zip(a, b).map { $0 - $1 }
    return zip(e, referenceProduct(h, e)).reduce(0) { $0 + $1.0 * $1.1 }.squareRoot()
}

// MARK: - L-BFGS two-loop recursion

struct LBFGSInverseHessianTests {
    /// The dense BFGS inverse of the stored pairs, oldest first, from `γ I`.
    func denseBFGSInverse(_ pairs: [(s: [Double], y: [Double])], dimension p: Int) -> Matrix {
        var h = Matrix.identity(p)
        if let newest = pairs.last {
            let gamma = BLAS.dot(newest.s, newest.y) / BLAS.dot(newest.y, newest.y)
            for k in h.storage.indices { h.storage[k] *= gamma }
        }
        for (s, y) in pairs {
            let rho = 1 / zip(s, y).reduce(0) { $0 + $1.0 * $1.1 }
            var left = Matrix.identity(p)   // I − ρ s yᵀ
            var ssT = Matrix(rows: p, columns: p)
            for j in 0..<p {
                for i in 0..<p {
                    left[i, j] -= rho * s[i] * y[j]
                    ssT[i, j] = rho * s[i] * s[j]
                }
            }
            var next = referenceProduct(referenceProduct(left, h), left.transposed)
            for k in next.storage.indices { next.storage[k] += ssT.storage[k] }
            h = next
        }
        return h
    }

    /// Tolerance: the two-loop recursion and the dense product apply the same k rank-two
    /// factors `I − ρ y sᵀ`; each multiplies the rounding already made (O(p·eps) relative per
    /// dot/axpy) by at most `1 + ρ‖s‖‖y‖ ≤ 1 + κ(A)` for pairs `y = A s`. With κ(A) ≤ 10 and
    /// k ≤ 6 the first-order bound is `k · p · eps · (1 + κ)` per factor pass; we allow
    /// `8 k (p + 2) (1 + κ) eps` measured against `‖H_k‖_F ‖v‖` (the scale of the result).
    @Test func twoLoopRecursionMatchesTheDenseBFGSInverse() throws {
        try forAll("L-BFGS two-loop vs dense BFGS inverse", cases: 120) { c in
            let p = c.size(1...40), m = c.size(1...6)
            let offered = c.int(in: 0...(2 * m + 1))
            let kappa = c.double(in: 1...10)
            let a = c.spdMatrix(dimension: p, conditionNumber: kappa, largest: c.logUniform(in: 0.01...100))
            c.note("p=\(p) m=\(m) pairs offered=\(offered) κ(A)=\(kappa)")
            var lbfgs = try LBFGSInverseHessian(dimension: p, memory: m)
            for _ in 0..<offered {
                let s = c.vector(count: p).map { $0 * c.logUniform(in: 1e-3...1e3) }
                try c.expect(try lbfgs.append(s: s, y: referenceProduct(a, s)), "a pair with y = A s, A ≻ 0, was skipped")
            }
            try c.expect(lbfgs.pairCount == min(offered, m), "pairCount \(lbfgs.pairCount), expected \(min(offered, m))")
            let pairs = lbfgs.pairs
            let dense = denseBFGSInverse(pairs, dimension: p)
            let v = c.vector(count: p)
            let got = try lbfgs.apply(v)
            let want = referenceProduct(dense, v)
            let k = Double(pairs.count)
            let scale = frobeniusNorm(dense) * BLAS.norm(v)
            let tol = 8 * max(k, 1) * Double(p + 2) * (1 + kappa) * Double.ulpOfOne
            let err = BLAS.norm(zip(got, want).map { $0 - $1 }) / scale
            try c.expect(err <= tol, "two-loop vs dense: error \(err) > \(tol)")
            // Secant equation on the newest pair: H_k y_k = s_k (same rounding argument).
            if let newest = pairs.last {
                let hy = try lbfgs.apply(newest.y)
                let secant = relativeError(hy, newest.s)
                try c.expect(secant <= tol * frobeniusNorm(dense) * BLAS.norm(newest.y) / BLAS.norm(newest.s),
                             "secant equation: relative error \(secant)")
            }
        }
    }

    @Test func safeguardSkipsPairsWithoutCurvatureAndLeavesStateUnchanged() throws {
        var lbfgs = try LBFGSInverseHessian(dimension: 3, memory: 2, curvatureThreshold: 1e-3)
        try #require(try lbfgs.append(s: [1, 0, 0], y: [2, 0, 0]))
        let before = try lbfgs.apply([1, 2, 3])
        // sᵀy < 0, sᵀy = 0, and 0 < sᵀy ≤ ε‖s‖‖y‖ are all skipped.
        #expect(try !lbfgs.append(s: [0, 1, 0], y: [0, -1, 0]))
        #expect(try !lbfgs.append(s: [0, 1, 0], y: [1, 0, 0]))
        #expect(try !lbfgs.append(s: [0, 1, 0], y: [1, 1e-4, 0]))
        #expect(lbfgs.pairCount == 1 && lbfgs.skippedPairCount == 3)
        #expect(try lbfgs.apply([1, 2, 3]) == before)
        // Bad lengths and non-finite pairs are typed errors, state unchanged.
        #expect(throws: BilevelError.self) { try lbfgs.append(s: [1, 0], y: [1, 0]) }
        #expect(throws: BilevelError.self) { try lbfgs.append(s: [1, .nan, 0], y: [1, 0, 0]) }
        #expect(throws: BilevelError.self) { try lbfgs.apply([1, 2]) }
        #expect(lbfgs.pairCount == 1)
        #expect(try lbfgs.apply([1, 2, 3]) == before)
        // With no pairs H₀ = I.
        lbfgs.removeAll()
        #expect(try lbfgs.apply([1, 2, 3]) == [1, 2, 3])
    }
}

// MARK: - SOBA

struct SOBAHypergradientTests {
    /// At a fixed (x, y) with full-batch Hessians and constant step ρ = 1/L, each estimate
    /// applies `v ← (I − ρH) v − ρ∇ᵧf`, so `v + H⁻¹∇ᵧf` contracts by exactly
    /// `max |1 − ρλ(H)| = 1 − μ/L` per call. From v = 0 the relative error after N calls is at
    /// most `(1 − μ/L)^N` (plus rounding: each step adds O(p eps) relative, summed geometrically
    /// to O(p eps L/μ)); we run until that rate reaches 1e-9 and require the bound.
    @Test func directionConvergesToMinusInverseHessianGradient() throws {
        try forAll("SOBA v → −H⁻¹∇ᵧf at fixed (x, y)", cases: 12) { c in
            let (problem, x) = randomRidgeCase(&c)
            let y = c.vector(count: problem.innerDimension)
            let (mu, l) = try problem.spectrumBounds(x: x)
            let rate = 1 - mu / l
            let steps = max(1, Int((log(1e-9) / log(rate)).rounded(.up)))
            c.note("μ=\(mu) L=\(l) steps=\(steps)")
            var soba = try SOBAHypergradient<LeastSquaresProblem>(stepSize: 1 / l, batchSize: nil)
            var rng = c.rng.split()
            let uStar = try problem.adjoint(x: x, y: y)
            let exact = try problem.implicitHypergradient(x: x, y: y)
            var estimate: HypergradientEstimate?
            for t in 1...steps {
                estimate = try soba.estimate(problem: problem, x: x, y: y, using: &rng)
                if t == 1 || t == steps / 2 {
                    let bound = pow(rate, Double(t)) + 1e3 * Double(problem.innerDimension) * Double.ulpOfOne * l / mu
                    let err = relativeError(estimate!.solution, uStar)
                    try c.expect(err <= bound * (1 + 1e-12), "after \(t) steps error \(err) > rate bound \(bound)")
                }
            }
            let final = try #require(estimate)
            let v = try #require(soba.direction)
            let tol = 1e-9 + 1e3 * Double(problem.innerDimension) * Double.ulpOfOne * l / mu
            try c.expect(relativeError(v.map { -$0 }, uStar) <= tol, "v vs −H⁻¹∇ᵧf: \(relativeError(v.map { -$0 }, uStar))")
            // d = ∇ₓf + J v is linear in v with |J| ≤ max e^x |y|: the same relative accuracy.
            let dErr = maxAbsDifference(final.hypergradient, exact) / max(maxNorm(exact), 1e-300)
            let jScale = zip(x, y).map { exp($0) * abs($1) }.max()! * BLAS.norm(uStar) / max(maxNorm(exact), 1e-300)
            try c.expect(dErr <= tol * jScale, "hypergradient error \(dErr) > \(tol * jScale)")
            try c.expect(final.oracleCalls == OracleCounts(hessianVectorProducts: 1, crossProducts: 1, outerGradients: 1),
                         "oracle calls \(final.oracleCalls)")
            try c.expect(soba.stepCount == steps, "stepCount")
        }
    }

    @Test func minibatchEstimatesAndStepScheduleAndReset() throws {
        var rng = Xoshiro256StarStar(seed: 7)
        let problem = LeastSquaresProblem.random(p: 4, n: 30, m: 10, using: &rng)
        var soba = try SOBAHypergradient<LeastSquaresProblem>(stepSize: 0.2, decayExponent: 0.5, batchSize: 5)
        #expect(soba.stepSize(atStep: 1) == 0.2)
        #expect(abs(soba.stepSize(atStep: 4) - 0.1) <= 1e-15)
        let x = problem.initialOuter(), y = problem.initialInner()
        let first = try soba.estimate(problem: problem, x: x, y: y, using: &rng)
        // From v = 0 the first step is v = −ρ₀ ∇ᵧf whatever the minibatch.
        let fy = try problem.outerGradients(x: x, y: y).y
        #expect(relativeError(first.solution, fy.map { 0.2 * $0 }) <= 4 * Double.ulpOfOne)
        _ = try soba.estimate(problem: problem, x: x, y: y, using: &rng)
        #expect(soba.stepCount == 2)
        soba.reset()
        #expect(soba.direction == nil && soba.stepCount == 0)
        // A wrong-length point is a typed error and leaves the state alone.
        #expect(throws: BilevelError.self) { try soba.estimate(problem: problem, x: [0], y: y, using: &rng) }
        #expect(soba.direction == nil && soba.stepCount == 0)
    }
}

// MARK: - qNBO

struct QuasiNewtonHypergradientTests {
    /// From y = 0, K = 4p + 4 L-BFGS steps reach y*(x): on a strongly convex quadratic the
    /// iteration converges superlinearly once unit steps are accepted, so well before 4p + 4
    /// steps the gradient test `‖∇g‖ ≤ 1e-10 ‖∇g(y₀)‖` stops it, which puts `y_K` within
    /// `κ · 1e-10` relative of y* (κ ≤ ~100 here): we require 1e-7.
    ///
    /// The hypergradient is checked for what qNBO guarantees, not against the exact one: BFGS
    /// with inexact (Armijo) line searches satisfies the secant equation only on the newest
    /// pair, and no rate bounds `‖(H_K − H⁻¹)∇ᵧf‖` (Dennis–Moré controls H_K along the steps
    /// only; measured relative hypergradient errors on these problems range from 1e-5 to
    /// order 1). So: `u` is exactly the two-loop recursion of the final memory applied to
    /// `∇ᵧf(x, y_K)` and `d = ∇ₓf − J u` at `y_K` (same operations: equal to rounding), and
    /// `H_K` is positive definite (the safeguard), so `⟨u, ∇ᵧf⟩ > 0`. Exactness is checked
    /// where BFGS provably recovers H⁻¹, in the test below.
    @Test func reachesTheInnerSolutionAndAppliesItsMemoryToTheOuterGradient() throws {
        try forAll("qNBO on ridge", cases: 12) { c in
            let (problem, x) = randomRidgeCase(&c)
            let p = problem.innerDimension
            let yStar = try problem.closedFormInnerSolution(x: x)
            let steps = 4 * p + 4
            var qnbo = try QuasiNewtonHypergradient<LeastSquaresProblem>(quasiNewtonSteps: steps, memory: steps)
            var rng = c.rng.split()
            let estimate = try qnbo.estimate(problem: problem, x: x, y: problem.initialInner(), using: &rng)
            let yK = try #require(qnbo.lastInnerIterate)
            let memory = try #require(qnbo.inverseHessian)
            c.note("pairs \(memory.pairCount), skipped \(memory.skippedPairCount)")
            try c.expect(relativeError(yK, yStar) <= 1e-7, "y_K vs y*: \(relativeError(yK, yStar))")
            let (fx, fy) = try problem.outerGradients(x: x, y: yK)
            let u = try memory.apply(fy)
            try c.expect(relativeError(estimate.solution, u) <= 4 * Double.ulpOfOne, "u is not H_K ∇ᵧf(y_K)")
            let ju = try problem.crossProduct(x: x, y: yK, u: u)
            let d = zip(fx, ju).map { $0 - $1 }
            try c.expect(relativeError(estimate.hypergradient, d) <= 4 * Double.ulpOfOne, "d is not ∇ₓf − J u at y_K")
            try c.expect(BLAS.dot(u, fy) > 0, "⟨H_K ∇ᵧf, ∇ᵧf⟩ ≤ 0: H_K is not positive definite")
            let gradients = estimate.oracleCalls.sampleGradients
            try c.expect(gradients % problem.trainingCount == 0 && gradients >= 2 * problem.trainingCount
                         && gradients <= (steps + 1) * problem.trainingCount,
                         "sample gradients \(gradients) are not 2 … K + 1 full passes")
            // Every line-search trial is one full pass of losses, plus the initial value: with
            // `a` accepted steps, between 1 + a and 1 + (a + 1)(maximumBacktracks + 1) passes.
            let n = problem.trainingCount, accepted = gradients / n - 1
            let losses = estimate.oracleCalls.sampleLosses
            try c.expect(losses % n == 0 && losses >= (1 + accepted) * n
                         && losses <= (1 + (accepted + 1) * (qnbo.maximumBacktracks + 1)) * n,
                         "sample losses \(losses) for \(accepted) accepted steps")
            try c.expect(estimate.oracleCalls.crossProducts == 1 && estimate.oracleCalls.outerGradients == 1
                         && estimate.oracleCalls.hessianVectorProducts == 0, "oracle calls \(estimate.oracleCalls)")
        }
    }

    /// With an orthogonal design (`A Aᵀ/n = I`) and equal regularisation, `H = h I`. The first
    /// accepted step gives a pair with `ỹ = h s`, hence `γ = 1/h` and `H₁ = H⁻¹` exactly (a BFGS
    /// update of the exact inverse with an exact pair returns it unchanged), the next step lands
    /// on y*, and `u = H⁻¹∇ᵧf`: the estimate is the exact hypergradient up to O(p eps) (κ = 1).
    @Test func isExactWhenTheHessianIsAMultipleOfTheIdentity() throws {
        try forAll("qNBO exact for H = h I", cases: 12) { c in
            let p = c.size(1...10), n = p + c.int(in: 0...20), m = c.int(in: 3...20)
            let q = c.orthonormalColumns(rows: n, columns: p)
            var features = Matrix(rows: p, columns: n)
            for i in 0..<n { for j in 0..<p { features[j, i] = Double(n).squareRoot() * q[i, j] } }
            let validation = c.gaussianMatrix(rows: p, columns: m)
            let problem = LeastSquaresProblem(features: features, targets: c.vector(count: n),
                                              validationFeatures: validation, validationTargets: c.vector(count: m))
            let x = [Double](repeating: log(c.double(in: 0.05...2)), count: p)
            c.note("p=\(p) n=\(n) m=\(m) h=\(1 + exp(x[0]))")
            var qnbo = try QuasiNewtonHypergradient<LeastSquaresProblem>(quasiNewtonSteps: 5, memory: 3)
            var rng = c.rng.split()
            let estimate = try qnbo.estimate(problem: problem, x: x, y: c.vector(count: p), using: &rng)
            let yStar = try problem.closedFormInnerSolution(x: x)
            let tol = 64 * Double(p + n) * Double.ulpOfOne
            try c.expect(relativeError(try #require(qnbo.lastInnerIterate), yStar) <= tol, "y_K is not y*")
            let exact = try problem.implicitHypergradient(x: x, y: yStar)
            let err = relativeError(estimate.hypergradient, exact)
            try c.expect(err <= tol, "hypergradient error \(err) > \(tol)")
        }
    }

    @Test func warmMemoryKeepsPairsAcrossEstimatesAndResetForgetsThem() throws {
        var rng = Xoshiro256StarStar(seed: 11)
        let problem = LeastSquaresProblem.random(p: 5, n: 30, m: 10, using: &rng)
        let x = problem.initialOuter()
        var warm = try QuasiNewtonHypergradient<LeastSquaresProblem>(quasiNewtonSteps: 2, memory: 8, warmMemory: true)
        var cold = try QuasiNewtonHypergradient<LeastSquaresProblem>(quasiNewtonSteps: 2, memory: 8)
        _ = try warm.estimate(problem: problem, x: x, y: problem.initialInner(), using: &rng)
        _ = try cold.estimate(problem: problem, x: x, y: problem.initialInner(), using: &rng)
        let first = try #require(warm.inverseHessian?.pairCount)
        #expect(first >= 1 && first == cold.inverseHessian?.pairCount)
        let y1 = try #require(warm.lastInnerIterate)
        _ = try warm.estimate(problem: problem, x: x, y: y1, using: &rng)
        _ = try cold.estimate(problem: problem, x: x, y: y1, using: &rng)
        #expect(try #require(warm.inverseHessian?.pairCount) > first)
        #expect(try #require(cold.inverseHessian?.pairCount) <= 2)
        warm.reset()
        #expect(warm.inverseHessian == nil && warm.lastInnerIterate == nil)
    }
}

// MARK: - NBO

struct CurvatureAwareHypergradientTests {
    /// At y = y*, ∇ᵧg = 0 up to the rounding of the closed form, so v ≈ 0, y⁺ ≈ y*, and with
    /// K = p CG steps (finite termination) u = H⁻¹∇ᵧf: the estimate is the exact hypergradient.
    /// Tolerance: the estimate's own a-posteriori bound `‖r‖/μ / (‖u‖ − ‖r‖/μ)` must hold and
    /// be ≤ 1e-8 after at most 3p steps (CG's residual in floating point falls to O(κ eps)).
    @Test func equalsExactAtTheInnerSolution() throws {
        try forAll("NBO at y* equals exact", cases: 15) { c in
            let (problem, x) = randomRidgeCase(&c)
            let p = problem.innerDimension, n = problem.trainingCount
            let yStar = try problem.closedFormInnerSolution(x: x)
            let (mu, l) = try problem.spectrumBounds(x: x)
            var nbo = try CurvatureAwareHypergradient<LeastSquaresProblem>(iterations: 3 * p, tolerance: 1e-13)
            var rng = c.rng.split()
            let estimate = try nbo.estimate(problem: problem, x: x, y: yStar, using: &rng)
            let uStar = try problem.adjoint(x: x, y: yStar)
            let bound = try #require(estimate.errorBound)
            let uErr = relativeError(estimate.solution, uStar)
            // The dense reference itself carries O(κ p eps) relative error.
            try c.expect(uErr <= bound + 10 * Double(p) * (l / mu) * Double.ulpOfOne, "u error \(uErr) > bound \(bound)")
            try c.expect(bound <= 1e-8, "error bound \(bound)")
            let yPlus = try #require(nbo.correctedInner)
            // y⁺ − y* = −H⁻¹ fl(∇ᵧg(y*)): the Newton step undoes the closed form's own error
            // (κ-amplified, as for u) and adds the rounding of the gradient it is given, at most
            // γ_{n+p+2}·‖mag‖/μ with `mag` its componentwise size (Higham §3.5).
            let gradientRounding = Double(n + p + 2) * Double.ulpOfOne
                * BLAS.norm(problem.gradientMagnitude(x: x, y: yStar)) / mu
            let yTol = 10 * Double(p) * (l / mu) * Double.ulpOfOne + gradientRounding / BLAS.norm(yStar)
            try c.expect(relativeError(yPlus, yStar) <= yTol,
                         "y⁺ moved away from y*: \(relativeError(yPlus, yStar)) > \(yTol)")
            let exact = try problem.implicitHypergradient(x: x, y: yStar)
            let dErr = relativeError(estimate.hypergradient, exact)
            try c.expect(dErr <= 1e-8, "hypergradient error \(dErr)")
            try c.expect(estimate.oracleCalls.sampleGradients == problem.trainingCount
                         && estimate.oracleCalls.outerGradients == 2 && estimate.oracleCalls.crossProducts == 1
                         && estimate.oracleCalls.hessianVectorProducts <= 2 * 3 * p, "oracle calls \(estimate.oracleCalls)")
        }
    }

    /// The Newton correction `y⁺ = y − v`, `v` from K CG steps on `H v = ∇ᵧg(y) = H (y − y*)`,
    /// is CG's K-th iterate for the error: its H-norm distance to y* is non-increasing in K,
    /// below the CG bound `2((√κ−1)/(√κ+1))^K ‖y − y*‖_H`, and with K = p it reaches y*
    /// (quadratic inner problem). Slack: `100 p κ eps (‖y‖_H + ‖y*‖_H)`, the rounding of
    /// forming `y − v` and of CG's loss of orthogonality, which grows like κ.
    @Test func newtonCorrectionMovesTowardTheInnerSolution() throws {
        try forAll("NBO Newton correction", cases: 12) { c in
            let (problem, x) = randomRidgeCase(&c)
            let p = problem.innerDimension
            let yStar = try problem.closedFormInnerSolution(x: x)
            let y = zip(yStar, c.vector(count: p)).map { $0 + $1 }
            let h = try problem.referenceHessian(x: x)
            let (mu, l) = try problem.spectrumBounds(x: x)
            let q = ((l / mu).squareRoot() - 1) / ((l / mu).squareRoot() + 1)
            let initial = hNormDistance(h, y, yStar)
            // Rounding floor: y⁺ = y − v is formed at the scale of y and y*, not of y − y*.
            let zero = [Double](repeating: 0, count: p)
            let floor = 100 * Double(p) * (l / mu) * Double.ulpOfOne
                * (hNormDistance(h, y, zero) + hNormDistance(h, yStar, zero))
            var previous = initial
            var rng = c.rng.split()
            for k in 1...p {
                var nbo = try CurvatureAwareHypergradient<LeastSquaresProblem>(iterations: k, tolerance: 0)
                _ = try nbo.estimate(problem: problem, x: x, y: y, using: &rng)
                let distance = hNormDistance(h, try #require(nbo.correctedInner), yStar)
                let slack = floor
                try c.expect(distance <= previous + slack, "K=\(k): H-distance \(distance) rose from \(previous)")
                try c.expect(distance <= 2 * pow(q, Double(k)) * initial + slack,
                             "K=\(k): H-distance \(distance) above the CG bound")
                previous = distance
            }
            try c.expect(previous <= floor, "K=p: y⁺ is not y*: \(previous / initial)")
        }
    }
}

// MARK: - Hyperparameters

struct BaselineHyperparameterTests {
    /// The error `body` throws, or `nil`.
    func thrownError<T>(_ body: () throws -> T) -> (any Error)? {
        do { _ = try body(); return nil } catch { return error }
    }

    func isInvalid(_ name: String, _ error: (any Error)?) -> Bool {
        if case let .invalidHyperparameter(n, _, _) = error as? BilevelError { return n == name }
        return false
    }

    @Test func badHyperparametersAreTypedErrors() {
        typealias P = LeastSquaresProblem
        func expectInvalid<T>(_ name: String, _ body: () throws -> T) {
            let error = thrownError(body)
            #expect(isInvalid(name, error), "\(name): got \(String(describing: error))")
        }
        expectInvalid("stepSize") { try SOBAHypergradient<P>(stepSize: 0) }
        expectInvalid("stepSize") { try SOBAHypergradient<P>(stepSize: -1) }
        expectInvalid("stepSize") { try SOBAHypergradient<P>(stepSize: .infinity) }
        expectInvalid("decayExponent") { try SOBAHypergradient<P>(stepSize: 1, decayExponent: -0.1) }
        expectInvalid("decayExponent") { try SOBAHypergradient<P>(stepSize: 1, decayExponent: 1.5) }
        expectInvalid("batchSize") { try SOBAHypergradient<P>(stepSize: 1, batchSize: 0) }

        expectInvalid("quasiNewtonSteps") { try QuasiNewtonHypergradient<P>(quasiNewtonSteps: 0) }
        expectInvalid("memory") { try QuasiNewtonHypergradient<P>(memory: 0) }
        expectInvalid("curvatureThreshold") { try QuasiNewtonHypergradient<P>(curvatureThreshold: -1) }
        expectInvalid("curvatureThreshold") { try QuasiNewtonHypergradient<P>(curvatureThreshold: 1) }
        expectInvalid("armijoConstant") { try QuasiNewtonHypergradient<P>(armijoConstant: 0) }
        expectInvalid("armijoConstant") { try QuasiNewtonHypergradient<P>(armijoConstant: 1) }
        expectInvalid("backtrackingFactor") { try QuasiNewtonHypergradient<P>(backtrackingFactor: 1) }
        expectInvalid("maximumBacktracks") { try QuasiNewtonHypergradient<P>(maximumBacktracks: 0) }
        expectInvalid("gradientTolerance") { try QuasiNewtonHypergradient<P>(gradientTolerance: -1) }
        expectInvalid("memory") { try LBFGSInverseHessian(dimension: 3, memory: 0) }
        expectInvalid("dimension") { try LBFGSInverseHessian(dimension: 0, memory: 3) }
        expectInvalid("curvatureThreshold") { try LBFGSInverseHessian(dimension: 3, memory: 3, curvatureThreshold: .nan) }

        expectInvalid("iterations") { try CurvatureAwareHypergradient<P>(iterations: 0) }
        expectInvalid("tolerance") { try CurvatureAwareHypergradient<P>(tolerance: -1) }
        expectInvalid("tolerance") { try CurvatureAwareHypergradient<P>(tolerance: .nan) }
        expectInvalid("batchSize") { try CurvatureAwareHypergradient<P>(batchSize: 0) }
    }

    @Test func wrongDimensionsAreTypedErrorsForEveryMethod() throws {
        var rng = Xoshiro256StarStar(seed: 3)
        let problem = LeastSquaresProblem.random(p: 3, n: 12, m: 6, using: &rng)
        let x = problem.initialOuter(), y = problem.initialInner()
        func isDimension(_ e: (any Error)?) -> Bool {
            if case .dimensionMismatch = e as? BilevelError { return true }
            return false
        }
        var soba = try SOBAHypergradient<LeastSquaresProblem>(stepSize: 0.1)
        var qnbo = try QuasiNewtonHypergradient<LeastSquaresProblem>(warmMemory: true)
        var nbo = try CurvatureAwareHypergradient<LeastSquaresProblem>()
        #expect(isDimension(thrownError { try soba.estimate(problem: problem, x: x, y: [1], using: &rng) }))
        #expect(isDimension(thrownError { try qnbo.estimate(problem: problem, x: [1, 2], y: y, using: &rng) }))
        #expect(isDimension(thrownError { try nbo.estimate(problem: problem, x: x, y: y + [0], using: &rng) }))
        #expect(qnbo.inverseHessian == nil && nbo.correctedInner == nil && soba.direction == nil)
    }
}

// MARK: - On the library's RidgeRegression

/// The three baselines on ``RidgeRegression`` (the library's closed-form reference problem)
/// at a fixed x, against its `exactHypergradient(x:)` and `solveInner(x:)`.
struct BaselinesOnRidgeRegressionTests {
    @Test func eachBaselineReachesTheExactHypergradientOrInnerSolution() throws {
        try forAll("baselines on RidgeRegression", cases: 10) { c in
            let d = c.size(1...8), n = 3 * d + c.int(in: 5...30), m = c.int(in: 5...30)
            let noise = c.double(in: 0.3...1)
            var rng = c.rng.split()
            let problem = try RidgeRegression.synthetic(n: n, m: m, d: d, noise: noise, using: &rng)
            let x = (0..<d).map { _ in log(c.double(in: 0.05...1)) }
            let yStar = try problem.solveInner(x: x)
            let exact = try problem.exactHypergradient(x: x)
            let values = try SymmetricEigendecomposition(problem.hessian(x: x, y: yStar)).values
            let mu = values.first!, l = values.last!
            c.note("d=\(d) n=\(n) m=\(m) s=\(noise) κ=\(l / mu)")
            // J is e^x ⊙ y*: the hypergradient's error is at most max e^x|y*| ‖u − u*‖, so compare
            // in the norm `‖d − d*‖ / (max e^x|y*| ‖u*‖)`, which has the relative error of u.
            let uStar = try problem.outerGradients(x: x, y: yStar).y
            let uExact = try denseSolve(problem.hessian(x: x, y: yStar), uStar)
            let scale = zip(x, yStar).map { exp($0) * abs($1) }.max()! * BLAS.norm(uExact)
            func hypergradientError(_ e: HypergradientEstimate) -> Double {
                BLAS.norm(zip(e.hypergradient, exact).map { $0 - $1 }) / max(scale, .leastNormalMagnitude)
            }
            let floor = 1e3 * Double(d) * (l / mu) * Double.ulpOfOne

            // NBO, K = 3d CG steps at y*: exact up to its a-posteriori bound (≤ 1e-8 required).
            var nbo = try CurvatureAwareHypergradient<RidgeRegression>(iterations: 3 * d, tolerance: 1e-13)
            let nboEstimate = try nbo.estimate(problem: problem, x: x, y: yStar, using: &rng)
            let nboBound = try #require(nboEstimate.errorBound)
            try c.expect(nboBound <= 1e-8, "NBO bound \(nboBound)")
            try c.expect(hypergradientError(nboEstimate) <= nboBound + floor, "NBO error \(hypergradientError(nboEstimate))")

            // SOBA, full batch, ρ = 1/L: (1 − μ/L)^N ≤ 1e-9 after N steps.
            let rate = 1 - mu / l
            let steps = max(1, Int((log(1e-9) / log(rate)).rounded(.up)))
            var soba = try SOBAHypergradient<RidgeRegression>(stepSize: 1 / l, batchSize: nil)
            var sobaEstimate: HypergradientEstimate?
            for _ in 0..<steps { sobaEstimate = try soba.estimate(problem: problem, x: x, y: yStar, using: &rng) }
            let sobaError = hypergradientError(try #require(sobaEstimate))
            try c.expect(sobaError <= 1e-9 + floor, "SOBA error \(sobaError) after \(steps) steps")

            // qNBO from y = 0 reaches y* (superlinear; stops at ‖∇g‖ ≤ 1e-10 ‖∇g(0)‖).
            var qnbo = try QuasiNewtonHypergradient<RidgeRegression>(quasiNewtonSteps: 4 * d + 4, memory: 4 * d + 4)
            let qnboEstimate = try qnbo.estimate(problem: problem, x: x, y: problem.initialInner(), using: &rng)
            let yK = try #require(qnbo.lastInnerIterate)
            try c.expect(relativeError(yK, yStar) <= 1e-7, "qNBO y_K vs y*: \(relativeError(yK, yStar))")
            try c.expect(BLAS.dot(qnboEstimate.solution, try problem.outerGradients(x: x, y: yK).y) > 0,
                         "qNBO: H_K not positive definite along ∇ᵧf")
        }
    }
}
