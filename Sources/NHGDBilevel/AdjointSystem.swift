import NHGDLinearAlgebra

/// The linear system `H u = b`, `b = ∇ᵧf(x, y)`, that every hypergradient method solves, with
/// the problem and the point, and the oracle calls spent on it so far. A method's
/// ``HypergradientEstimator/solve(_:using:)`` reaches the problem through the system's
/// methods, which count what they call.
public struct AdjointSystem<Problem: BilevelProblem> {
    public let problem: Problem
    public let x: [Double]
    /// The inner point (qNBO moves it with ``moveInner(to:)``).
    public private(set) var y: [Double]
    /// Oracle calls spent on this system.
    public var oracleCalls = OracleCounts()
    /// `(∇ₓf, ∇ᵧf)` at (x, y), computed on first use.
    private var outerGradientsAtPoint: (x: [Double], y: [Double])?

    /// The system at a validated point.
    init(problem: Problem, x: [Double], y: [Double]) {
        self.problem = problem
        self.x = x
        self.y = y
    }

    /// `b = ∇ᵧf(x, y)` (one outer gradient, on first use).
    public mutating func rightHandSide() throws -> [Double] { try outerGradients().y }

    private mutating func outerGradients() throws -> (x: [Double], y: [Double]) {
        if let outerGradientsAtPoint { return outerGradientsAtPoint }
        let gradients = try problem.outerGradients(x: x, y: y)
        oracleCalls.outerGradients += 1
        outerGradientsAtPoint = gradients
        return gradients
    }

    /// p.
    public var dimension: Int { problem.innerDimension }

    /// Moves the system to the inner point `y′` (the right-hand side is then taken there):
    /// qNBO's quasi-Newton iterates end at a better inner point than the optimiser's.
    /// - Throws: ``BilevelError/nonFinite(operation:argument:)`` for a non-finite `y′`.
    public mutating func moveInner(to newY: [Double]) throws {
        precondition(newY.count == dimension, "AdjointSystem.moveInner: length")
        try requireAllFinite(newY, "AdjointSystem.moveInner", "the new inner point")
        y = newY
        outerGradientsAtPoint = nil
    }

    /// The inner gradient at `point` (the system's y by default) on `samples` (all data when
    /// `nil`), counting its sample gradients.
    public mutating func innerGradient(at point: [Double]? = nil, samples: [Int]? = nil) throws -> [Double] {
        oracleCalls.sampleGradients += samples?.count ?? problem.trainingCount
        return try problem.innerGradient(x: x, y: point ?? y, samples: samples)
    }

    /// The full-data inner objective at `point`, counting n sample losses.
    public mutating func innerValue(at point: [Double]) throws -> Double {
        oracleCalls.sampleLosses += problem.trainingCount
        return try problem.innerValue(x: x, y: point)
    }

    /// `diag ∇²ᵧᵧR` at the system's point.
    public var regularizerCurvature: Diagonal { problem.regularizerCurvature(x: x, y: y) }

    /// `count` distinct sample indices drawn uniformly from `0..<n` (all of them, in order,
    /// when `count ≥ n`), or `nil` for a full batch when `count` is `nil`.
    public func minibatch(_ count: Int?, using rng: inout Xoshiro256StarStar) -> [Int]? {
        guard let count else { return nil }
        let n = problem.trainingCount
        if count >= n { return Array(0..<n) }
        var indices = Array(0..<n)
        for i in 0..<count { indices.swapAt(i, i + Int(rng.next(upperBound: UInt64(n - i)))) }
        return Array(indices[0..<count])
    }

    /// `d = ∇ₓf − J u` at the solution's assembly point (the system's y by default).
    mutating func assemble(_ solution: AdjointSolution) throws -> HypergradientEstimate {
        precondition(solution.u.count == dimension, "AdjointSystem.assemble: u has the wrong length")
        var point = y, fx = try outerGradients().x
        if let corrected = solution.assemblyPoint {
            try requireAllFinite(corrected, "AdjointSystem.assemble", "the corrected inner point")
            point = corrected
            fx = try problem.outerGradients(x: x, y: corrected).x
            oracleCalls.outerGradients += 1
        }
        let ju = try problem.crossProduct(x: x, y: point, u: solution.u)
        oracleCalls.crossProducts += 1
        BLAS.axpy(-1, ju, &fx)
        try requireAllFinite(fx, "hypergradient", "the estimate")
        return HypergradientEstimate(hypergradient: fx, solution: solution.u, oracleCalls: oracleCalls,
                                     errorBound: solution.errorBound)
    }
}

/// The inner Hessian `H = ∇²ᵧᵧg(x, y)` on a fixed set of samples (all data when `samples` is
/// `nil`) as a ``LinearOperator``, so that the generic solvers of the linear-algebra layer
/// (``ConjugateGradients``, ``NeumannSeries``, ``RichardsonIteration``) apply to it.
public struct HessianOperator<Problem: SecondOrderBilevelProblem>: LinearOperator {
    public let problem: Problem
    public let x: [Double], y: [Double]
    public let samples: [Int]?
    public var dimension: Int { problem.innerDimension }

    public func apply(_ v: [Double], into result: inout [Double]) throws {
        try problem.hessianVectorProduct(x: x, y: y, v: v, samples: samples, into: &result)
    }
}

extension AdjointSystem where Problem: SecondOrderBilevelProblem {
    /// H on `samples` (all data when `nil`) at the system's point. Applications through the
    /// operator are not counted: count them with ``countHessianVectorProducts(_:)``, or use
    /// the counting helpers below.
    public func hessian(samples: [Int]? = nil) -> HessianOperator<Problem> {
        HessianOperator(problem: problem, x: x, y: y, samples: samples)
    }

    /// Records `count` Hessian-vector products done through ``hessian(samples:)``.
    public mutating func countHessianVectorProducts(_ count: Int) {
        oracleCalls.hessianVectorProducts += count
    }

    /// `result = H v` on `samples`, counted.
    public mutating func hessianVectorProduct(_ v: [Double], samples: [Int]? = nil, into result: inout [Double]) throws {
        try problem.hessianVectorProduct(x: x, y: y, v: v, samples: samples, into: &result)
        oracleCalls.hessianVectorProducts += 1
    }

    /// At most `iterations` (preconditioned) CG steps on `H u = b` (b the right-hand side by
    /// default) from `start`, H on `samples`; counts its Hessian-vector products.
    public mutating func conjugateGradients(
        _ b: [Double]? = nil, start: [Double]? = nil, iterations: Int, relativeTolerance: Double = 0,
        samples: [Int]? = nil, preconditioner: (any LinearOperator)? = nil
    ) throws -> IterativeSolution {
        let rhs = try b ?? rightHandSide()
        let result = try ConjugateGradients.solve(hessian(samples: samples), rhs, start: start,
                                                  maxIterations: iterations, relativeTolerance: relativeTolerance,
                                                  preconditioner: preconditioner)
        oracleCalls.hessianVectorProducts += result.operatorApplications
        return result
    }

    /// The a-posteriori bound on the relative error of `u` from its residual `r = b − H u`:
    /// with `μ ≤ λ_min(H)` the regulariser's smallest curvature (valid when the data part is
    /// convex, as for every built-in linear model), `‖u − u*‖ ≤ ‖r‖/μ`, so the relative error
    /// is at most `e / (‖u‖ − e)` with `e = ‖r‖/μ` whenever `‖u‖ > e`; `nil` otherwise.
    public func residualErrorBound(u: [Double], residualNorm: Double) -> Double? {
        let mu = regularizerCurvature.minimum
        guard mu > 0 else { return nil }
        let e = residualNorm / mu, norm = BLAS.norm(u)
        return norm > e ? e / (norm - e) : nil
    }
}
