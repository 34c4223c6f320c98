import NHGDLinearAlgebra

/// Deterministic full-batch minimisation of the inner objective `g(x, ·)` by L-BFGS with an
/// Armijo backtracking line search (Nocedal & Wright, Algorithm 7.5 with 3.1).
///
/// Used where a converged inner solution is wanted rather than SGD iterates: the reference
/// models of the command-line tool (trained on all corrupted labels, on the clean samples
/// only, and at the learned weights) and tests.
public struct InnerSolver: Sendable {
    /// Stop when `‖∇ᵧg‖ ≤ gradientTolerance · max(1, ‖∇ᵧg(start)‖)`.
    public var gradientTolerance: Double
    public var maxIterations: Int
    /// L-BFGS memory m.
    public var memory: Int

    public init(gradientTolerance: Double = 1e-6, maxIterations: Int = 500, memory: Int = 10) throws {
        try requireHyperparameter(gradientTolerance > 0, "gradientTolerance", gradientTolerance, "must be > 0")
        try requireHyperparameter(maxIterations >= 1, "maxIterations", maxIterations, "must be at least 1")
        try requireHyperparameter(memory >= 1, "memory", memory, "must be at least 1")
        self.gradientTolerance = gradientTolerance
        self.maxIterations = maxIterations
        self.memory = memory
    }

    /// The result of a solve.
    public struct Solution: Sendable {
        public var y: [Double]
        public var iterations: Int
        public var gradientNorm: Double
        public var converged: Bool
    }

    /// Minimises `g(x, ·)` from `start` (default: the problem's initial inner point).
    /// - Complexity: per iteration one full-batch gradient (n per-sample gradients), one or a
    ///   few values, and O(m·p) for the two-loop recursion.
    public func minimize<P: BilevelProblem>(_ problem: P, x: [Double], start: [Double]? = nil) throws -> Solution {
        var y = start ?? problem.initialInner()
        try validatePoint(problem, x: x, y: y, "InnerSolver")
        var memoryPairs = try LBFGSInverseHessian(dimension: problem.innerDimension, memory: memory)
        var gradient = try problem.innerGradient(x: x, y: y)
        var value = try problem.innerValue(x: x, y: y)
        let threshold = gradientTolerance * max(1, BLAS.norm(gradient))
        var iteration = 0
        while iteration < maxIterations, BLAS.norm(gradient) > threshold {
            var direction = try memoryPairs.apply(gradient)
            BLAS.scale(&direction, by: -1)
            var slope = BLAS.dot(direction, gradient)
            if !(slope < 0) {  // not a descent direction: restart from steepest descent
                memoryPairs.removeAll()
                direction = gradient.map { -$0 }
                slope = -BLAS.dot(gradient, gradient)
            }
            var alpha = memoryPairs.pairCount == 0 ? min(1, 1 / BLAS.norm(gradient)) : 1
            var trial = y
            var trialValue = Double.infinity
            for _ in 0..<40 {
                trial = y
                BLAS.axpy(alpha, direction, &trial)
                trialValue = try problem.innerValue(x: x, y: trial)
                if trialValue.isFinite, trialValue <= value + 1e-4 * alpha * slope { break }
                alpha *= 0.5
            }
            guard trialValue.isFinite, trialValue <= value else { break }  // no progress possible in floating point
            let trialGradient = try problem.innerGradient(x: x, y: trial)
            var s = trial, change = trialGradient
            BLAS.axpy(-1, y, &s)
            BLAS.axpy(-1, gradient, &change)
            try memoryPairs.append(s: s, y: change)
            y = trial
            gradient = trialGradient
            value = trialValue
            iteration += 1
        }
        let norm = BLAS.norm(gradient)
        return Solution(y: y, iterations: iteration, gradientNorm: norm, converged: norm <= threshold)
    }
}
