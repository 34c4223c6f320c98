import NHGDLinearAlgebra

/// The exact implicit hypergradient: the dense inner Hessian `H` (closed form when the
/// problem offers it, otherwise p Hessian-vector products against unit vectors), factored by
/// Cholesky, `u = H⁻¹∇ᵧf` (ALGORITHMS.md §1).
///
/// The reference for every other method, feasible only while `H` fits in memory: it refuses
/// `p² · 8` bytes beyond `memoryBudget` with an error naming the memory it would need, before
/// any work.
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
    public init(memoryBudget: Int = defaultMemoryBudget, assembly: Assembly = .automatic) throws {
        try requireHyperparameter(memoryBudget > 0, "memoryBudget", memoryBudget, "must be positive")
        self.memoryBudget = memoryBudget
        self.assembly = assembly
    }

    /// 4 GiB, the default ``memoryBudget``.
    public static var defaultMemoryBudget: Int { 4 << 30 }

    /// Bytes the dense Hessian needs at dimension p.
    public static func bytesNeeded(innerDimension p: Int) -> Int {
        let (bytes, overflow) = p.multipliedReportingOverflow(by: p * 8)
        return overflow ? Int.max : bytes
    }

    /// - Throws: ``BilevelError/exceedsMemoryBudget(method:bytesNeeded:bytesAllowed:)`` when the
    ///   dense Hessian would exceed ``memoryBudget``.
    public mutating func solve(_ system: inout AdjointSystem<Problem>, using rng: inout Xoshiro256StarStar) throws
        -> AdjointSolution {
        let p = system.dimension
        let needed = Self.bytesNeeded(innerDimension: p)
        guard needed <= memoryBudget else {
            throw BilevelError.exceedsMemoryBudget(method: "exact hypergradient (dense \(p)×\(p) Hessian)",
                                                   bytesNeeded: needed, bytesAllowed: memoryBudget)
        }
        let h: Matrix
        if assembly == .automatic, let dense = system.problem as? any DenseHessianProblem {
            h = try dense.hessian(x: system.x, y: system.y, maxBytes: memoryBudget)
        } else {
            var m = Matrix(rows: p, columns: p)
            var e = [Double](repeating: 0, count: p)
            var column = [Double](repeating: 0, count: p)
            for j in 0..<p {
                e[j] = 1
                try system.hessianVectorProduct(e, into: &column)
                e[j] = 0
                m.storage.replaceSubrange((j * p)..<((j + 1) * p), with: column)
            }
            // Symmetrise: HVPs agree with a symmetric H only to rounding.
            for j in 0..<p { for i in (j + 1)..<p { m[i, j] = 0.5 * (m[i, j] + m[j, i]) } }
            m.symmetrizeFromLower()
            h = m
        }
        var u = try system.rightHandSide()
        try CholeskyFactorization(h).solve(&u)
        return AdjointSolution(u: u)
    }
}
