import NHGDLinearAlgebra

/// qNBO (Fang et al. 2025, "qNBO: quasi-Newton Meets Bilevel Optimization"): quasi-Newton
/// steps on the inner problem whose curvature pairs, at no extra oracle cost, give an
/// approximate `H⁻¹` for the hypergradient. First-order oracles only.
///
/// Each solve, from `y₀ = y`:
///
/// ```
/// for i = 0 … K−1:
///     dᵢ = −H_i ∇g(yᵢ)                                   (L-BFGS two-loop recursion)
///     αᵢ: backtracking from 1 until g(yᵢ + α dᵢ) ≤ g(yᵢ) + c α dᵢᵀ∇g(yᵢ)   (Armijo)
///     y_{i+1} = yᵢ + αᵢ dᵢ
///     store (sᵢ, ỹᵢ) = (αᵢ dᵢ, ∇g(y_{i+1}) − ∇g(yᵢ)) unless sᵢᵀỹᵢ ≤ ε ‖sᵢ‖ ‖ỹᵢ‖
/// u = H_K ∇ᵧf(x, y_K),     d = ∇ₓf(x, y_K) − J(x, y_K) u
/// ```
///
/// with `g = g(x, ·)` on all training data and `H_i` the ``LBFGSInverseHessian`` of the
/// newest ``memory`` pairs (initial scaling `γ = sᵀỹ / ỹᵀỹ` of the newest). On a quadratic
/// `ỹ = H s` exactly, so `H_K` satisfies the secant equation `H_K ỹ = s` on the newest pair and
/// is the BFGS inverse of `H` restricted to the explored directions.
///
/// The quasi-Newton iterates stay inside the estimate: the estimator cannot move the
/// optimiser's `y`. Under ``BilevelOptimizer`` they refine the inner SGD iterate, and with
/// ``warmMemory`` the pairs of earlier outer iterations (at earlier x) seed the next one.
/// The loop stops early once `‖∇g(yᵢ)‖ ≤ gradientTolerance · ‖∇g(y₀)‖` or when the line search
/// fails (after ``maximumBacktracks`` reductions), and then uses the pairs it has. The
/// gradient test matters for the hypergradient, not only for speed: near the inner optimum
/// the gradient difference `ỹ` of a tiny step is dominated by the rounding of the two
/// gradients (O(eps) times the size of their terms), and such a pair would replace a good
/// one in the memory with noise. With no pair at all,
/// `H = I` and `u = ∇ᵧf`, which is only as good as `H ≈ I`.
///
/// Oracle counts: every full-batch inner gradient counts `n` sample gradients (K + 1 of them
/// per estimate); every full-data inner-objective value of the line search counts `n` in
/// ``OracleCounts/sampleLosses``.
/// - Complexity: per estimate, K + 1 full-batch gradients, between K + 1 and
///   `1 + K · (1 + maximumBacktracks)` inner-objective evaluations, one outer gradient, one cross
///   product, and `O(p m)` work per two-loop recursion; `O(p m)` memory.
public struct QuasiNewtonHypergradient<Problem: BilevelProblem>: HypergradientEstimator {
    public var name: String { "qnbo" }
    /// K, quasi-Newton steps per estimate.
    public let quasiNewtonSteps: Int
    /// m, curvature pairs kept.
    public let memory: Int
    /// Keep the pairs across estimates (outer iterations) instead of starting empty.
    public let warmMemory: Bool
    /// ε of the curvature safeguard `sᵀỹ > ε ‖s‖ ‖ỹ‖`.
    public let curvatureThreshold: Double
    /// c of the Armijo condition, in (0, 1).
    public let armijoConstant: Double
    /// Factor by which the line search shrinks a rejected step, in (0, 1).
    public let backtrackingFactor: Double
    /// Largest number of step reductions per line search.
    public let maximumBacktracks: Int
    /// Relative gradient norm at which the quasi-Newton loop stops.
    public let gradientTolerance: Double

    /// The L-BFGS memory after the last estimate.
    public internal(set) var inverseHessian: LBFGSInverseHessian?
    /// The final quasi-Newton iterate `y_K` of the last estimate.
    public internal(set) var lastInnerIterate: [Double]?

    /// - Parameters:
    ///   - quasiNewtonSteps: K ≥ 1.
    ///   - memory: m ≥ 1.
    ///   - warmMemory: keep the pairs across estimates.
    ///   - curvatureThreshold: ε ∈ [0, 1).
    ///   - armijoConstant: c ∈ (0, 1).
    ///   - backtrackingFactor: in (0, 1).
    ///   - maximumBacktracks: ≥ 1.
    ///   - gradientTolerance: ≥ 0 (finite); stop once `‖∇g(yᵢ)‖ ≤ tol · ‖∇g(y₀)‖`.
    /// - Throws: ``BilevelError/invalidHyperparameter(name:value:requirement:)``.
    public init(quasiNewtonSteps: Int = 10, memory: Int = 10, warmMemory: Bool = false,
                curvatureThreshold: Double = 1e-8, armijoConstant: Double = 1e-4,
                backtrackingFactor: Double = 0.5, maximumBacktracks: Int = 30,
                gradientTolerance: Double = 1e-10) throws {
        try requireHyperparameter(quasiNewtonSteps >= 1, "quasiNewtonSteps", quasiNewtonSteps, "must be at least 1")
        try requireHyperparameter(memory >= 1, "memory", memory, "must be at least 1")
        try requireHyperparameter(curvatureThreshold >= 0 && curvatureThreshold < 1, "curvatureThreshold",
                                  curvatureThreshold, "must be in [0, 1)")
        try requireHyperparameter(armijoConstant > 0 && armijoConstant < 1, "armijoConstant", armijoConstant,
                                  "must be in (0, 1)")
        try requireHyperparameter(backtrackingFactor > 0 && backtrackingFactor < 1, "backtrackingFactor",
                                  backtrackingFactor, "must be in (0, 1)")
        try requireHyperparameter(maximumBacktracks >= 1, "maximumBacktracks", maximumBacktracks, "must be at least 1")
        try requireHyperparameter(gradientTolerance >= 0 && gradientTolerance.isFinite, "gradientTolerance",
                                  gradientTolerance, "must be finite and ≥ 0")
        self.quasiNewtonSteps = quasiNewtonSteps
        self.memory = memory
        self.warmMemory = warmMemory
        self.curvatureThreshold = curvatureThreshold
        self.armijoConstant = armijoConstant
        self.backtrackingFactor = backtrackingFactor
        self.maximumBacktracks = maximumBacktracks
        self.gradientTolerance = gradientTolerance
    }

    public mutating func reset() {
        inverseHessian = nil
        lastInnerIterate = nil
    }

    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        let p = system.dimension
        var memoryState: LBFGSInverseHessian
        if warmMemory, let kept = inverseHessian, kept.dimension == p {
            memoryState = kept
        } else {
            memoryState = try LBFGSInverseHessian(dimension: p, memory: memory, curvatureThreshold: curvatureThreshold)
        }

        var current = system.y
        var value = try system.innerValue(at: current)
        var gradient = try system.innerGradient(at: current)
        var trial = current
        let stoppingNorm = gradientTolerance * BLAS.norm(gradient)
        for _ in 0..<quasiNewtonSteps {
            let gradientNorm = BLAS.norm(gradient)
            guard gradientNorm > 0, gradientNorm > stoppingNorm else { break }
            var direction = try memoryState.apply(gradient)
            BLAS.scale(&direction, by: -1)
            var slope = BLAS.dot(direction, gradient)
            if !(slope < 0) {
                // Rounding made H_i gᵢ a non-descent direction: fall back to steepest descent.
                direction = gradient
                BLAS.scale(&direction, by: -1)
                slope = -BLAS.dot(gradient, gradient)
            }
            var alpha = 1.0
            var accepted = false
            var trialValue = value
            for _ in 0...maximumBacktracks {
                trial = current
                BLAS.axpy(alpha, direction, &trial)
                trialValue = try system.innerValue(at: trial)
                if trialValue.isFinite, trialValue <= value + armijoConstant * alpha * slope {
                    accepted = true
                    break
                }
                alpha *= backtrackingFactor
            }
            guard accepted else { break }
            let nextGradient = try system.innerGradient(at: trial)
            var s = direction
            BLAS.scale(&s, by: alpha)
            var change = nextGradient
            BLAS.axpy(-1, gradient, &change)
            try memoryState.append(s: s, y: change)
            swap(&current, &trial)
            gradient = nextGradient
            value = trialValue
        }
        try system.moveInner(to: current)
        let u = try memoryState.apply(system.rightHandSide())
        inverseHessian = memoryState
        lastInnerIterate = current
        return AdjointSolution(u: u)
    }
}
