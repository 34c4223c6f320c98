import NHGDLinearAlgebra

/// AmIGO (Arbel & Mairal 2022): N warm-started stochastic gradient steps on the quadratic
/// `½ zᵀ H z − zᵀ ∇ᵧf`,
///
/// ```
/// z ← z − α (H_B z − ∇ᵧf),
/// ```
///
/// whose minimiser is `u = H⁻¹∇ᵧf`. Warm starting across outer iterations amortises the solve.
/// - Complexity: N Hessian-vector products.
public struct AmIGOHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "amigo" }
    public var steps: Int
    public var stepSize: Double
    public var batchSize: Int?
    private var previousSolution: [Double]?

    public init(steps: Int = 10, stepSize: Double, batchSize: Int? = nil) throws {
        try requireHyperparameter(steps >= 1, "steps", steps, "must be at least 1")
        try requireHyperparameter(stepSize > 0 && stepSize.isFinite, "stepSize", stepSize, "must be finite and > 0 (and ≤ 1/L)")
        if let b = batchSize { try requireHyperparameter(b >= 1, "batchSize", b, "must be at least 1") }
        self.steps = steps
        self.stepSize = stepSize
        self.batchSize = batchSize
    }

    public mutating func reset() { previousSolution = nil }

    public mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate {
        let start = monotonicSeconds()
        try validatePoint(problem, x: x, y: y, "AmIGOHypergradient")
        let p = problem.innerDimension
        var counts = OracleCounts()
        let (fx, b) = try problem.outerGradients(x: x, y: y)
        counts.outerGradients += 1
        var z = previousSolution ?? [Double](repeating: 0, count: p)
        if z.count != p { z = [Double](repeating: 0, count: p) }
        var hz = [Double](repeating: 0, count: p)
        for _ in 0..<steps {
            let samples = batchSize.map { drawMinibatch($0, from: problem.trainingCount, using: &rng) }
            try problem.hessianVectorProduct(x: x, y: y, v: z, samples: samples, into: &hz)
            counts.hessianVectorProducts += 1
            // z ← z − α(Hz − b)
            BLAS.axpy(-stepSize, hz, &z)
            BLAS.axpy(stepSize, b, &z)
        }
        previousSolution = z
        let d = try assembleHypergradient(problem, x: x, y: y, outerGradientX: fx, u: z, counts: &counts)
        return HypergradientEstimate(hypergradient: d, solution: z, oracleCalls: counts,
                                     seconds: monotonicSeconds() - start, errorBound: nil)
    }
}
