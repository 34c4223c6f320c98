import NHGDLinearAlgebra

/// The exact implicit hypergradient: the dense inner Hessian `H` (closed form when the
/// problem offers it, otherwise p Hessian-vector products against unit vectors), factored by
/// Cholesky, `u = H⁻¹∇ᵧf`, `∇Φ = ∇ₓf − J u` (ALGORITHMS.md §1).
///
/// The reference for every other method, feasible only while `H` fits in memory: it refuses
/// `p² · 8` bytes beyond `memoryBudget` with an error naming the memory it would need.
/// - Complexity: O(p²) memory, p³/3 flops for the factorisation (plus p HVPs without a
///   closed form).
public struct ExactHypergradient<Problem: SecondOrderBilevelProblem>: HypergradientEstimator {
    public var name: String { "exact" }
    /// How the dense Hessian is formed.
    public enum Assembly: Sendable, Equatable {
        /// The problem's closed form when it conforms to ``DenseHessianProblem``, otherwise
        /// p Hessian-vector products.
        case automatic
        /// Always p full-batch Hessian-vector products against unit vectors (for problems whose
        /// closed form is limited to small p, or to check one against the other).
        case hessianVectorProducts
    }

    /// Largest dense Hessian allowed, in bytes.
    public var memoryBudget: Int
    public var assembly: Assembly

    /// - Parameters:
    ///   - memoryBudget: bytes allowed for the dense Hessian (default 4 GiB).
    ///   - assembly: closed form when available (default) or Hessian-vector products.
    public init(memoryBudget: Int = 4 << 30, assembly: Assembly = .automatic) throws {
        try requireHyperparameter(memoryBudget > 0, "memoryBudget", memoryBudget, "must be positive")
        self.memoryBudget = memoryBudget
        self.assembly = assembly
    }

    /// Bytes the dense Hessian needs at dimension p.
    public static func bytesNeeded(innerDimension p: Int) -> Int {
        let (bytes, overflow) = p.multipliedReportingOverflow(by: p * 8)
        return overflow ? Int.max : bytes
    }

    public mutating func estimate(
        problem: Problem, x: [Double], y: [Double], using rng: inout Xoshiro256StarStar
    ) throws -> HypergradientEstimate {
        let start = monotonicSeconds()
        try validatePoint(problem, x: x, y: y, "ExactHypergradient")
        let p = problem.innerDimension
        let needed = Self.bytesNeeded(innerDimension: p)
        guard needed <= memoryBudget else {
            throw BilevelError.exceedsMemoryBudget(method: "exact hypergradient (dense \(p)×\(p) Hessian)",
                                                   bytesNeeded: needed, bytesAllowed: memoryBudget)
        }
        var counts = OracleCounts()
        let h: Matrix
        if assembly == .automatic, let dense = problem as? any DenseHessianProblem {
            h = try dense.hessian(x: x, y: y)
        } else {
            var m = Matrix(rows: p, columns: p)
            var e = [Double](repeating: 0, count: p)
            var column = [Double](repeating: 0, count: p)
            for j in 0..<p {
                e[j] = 1
                try problem.hessianVectorProduct(x: x, y: y, v: e, samples: nil, into: &column)
                e[j] = 0
                m.storage.replaceSubrange((j * p)..<((j + 1) * p), with: column)
            }
            counts.hessianVectorProducts += p
            // Symmetrise: HVPs agree with a symmetric H only to rounding.
            for j in 0..<p { for i in (j + 1)..<p { m[i, j] = 0.5 * (m[i, j] + m[j, i]) } }
            m.symmetrizeFromLower()
            h = m
        }
        let (fx, fy) = try problem.outerGradients(x: x, y: y)
        counts.outerGradients += 1
        let cholesky: CholeskyFactorization
        do { cholesky = try CholeskyFactorization(h) } catch let error as LinearAlgebraError {
            throw BilevelError.linearAlgebra(error)
        }
        var u = fy
        try cholesky.solve(&u)
        let d = try assembleHypergradient(problem, x: x, y: y, outerGradientX: fx, u: u, counts: &counts)
        return HypergradientEstimate(hypergradient: d, solution: u, oracleCalls: counts,
                                     seconds: monotonicSeconds() - start, errorBound: nil)
    }
}
