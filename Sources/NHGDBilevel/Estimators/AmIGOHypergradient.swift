import NHGDLinearAlgebra

/// AmIGO (Arbel & Mairal 2022): N warm-started stochastic gradient steps on the quadratic
/// `½ zᵀ H z − zᵀ ∇ᵧf` (``RichardsonIteration``),
///
/// ```
/// z ← z − α (H_B z − ∇ᵧf),
/// ```
///
/// whose minimiser is `u = H⁻¹∇ᵧf`. Warm starting across outer iterations amortises the solve.
/// - Complexity: N Hessian-vector products.
public struct AmIGOHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "amigo" }
    public let steps: Int
    public let stepSize: Double
    public let batchSize: Int?
    var previousSolution: [Double]?

    public init(steps: Int = 10, stepSize: Double, batchSize: Int? = nil) throws {
        (self.steps, self.stepSize, self.batchSize) = try validatedSolverSettings(
            ("steps", steps, 1), stepSize: stepSize, batchSize: batchSize)
    }

    public mutating func reset() { previousSolution = nil }

    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        let start = previousSolution.flatMap { $0.count == system.dimension ? $0 : nil }
            ?? [Double](repeating: 0, count: system.dimension)
        let operators = (0..<steps).map { _ in system.hessian(samples: system.minibatch(batchSize, using: &rng)) }
        let z = try RichardsonIteration.solve(stepSize: stepSize, try system.rightHandSide(), start: start, operators: operators)
        system.countHessianVectorProducts(steps)
        previousSolution = z
        return AdjointSolution(u: z)
    }
}
