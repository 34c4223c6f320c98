import NHGDLinearAlgebra

/// A data term whose n training samples are split across the ranks of a ``Communicator``
/// (data parallelism, ALGORITHMS.md §8): each rank holds the samples of its block
/// ``samples(of:count:ranks:)`` as its own `Local` data term, and every oracle of the whole
/// term is the sum of the ranks' parts.
///
/// ```
/// G C = Σ_ranks G_r C_r                (C_r: the rows of C for the rank's samples; one allreduce of p·s)
/// ℓ(samples), gᵢᵀu                      (each entry from the rank that holds sample i; one allreduce of b)
/// Σᵢ cᵢ ∇²ℓᵢ v = Σ_ranks (…)_r          (one allreduce of p)
/// ```
///
/// Indices stay global: a minibatch is a list of indices in `0..<n`, the same on every rank
/// (the optimiser draws it from its seeded generator, so every rank sees the same schedule),
/// and each rank evaluates the part that falls in its block; a rank with no samples in a
/// minibatch, or none at all, contributes zeros. y (and x) are replicated, so the
/// ``BilevelOptimizer``, the estimators and the metrics run unchanged on every rank; each
/// step's combination block is the only p-sized message. Per-sample values (losses,
/// projections) come from one rank each and equal the one-process values bit for bit; sums over
/// samples differ from them by the order of the additions only.
///
/// In-process ranks (threads sharing one OpenBLAS, as in the tests) must run the optimiser with
/// `blasThreads = nil`: `BLAS.withThreadCount` holds a process-wide lock for a whole step, which
/// one rank would keep while waiting in a collective for another. MPI ranks are processes.
///
/// With the single-process communicator and all the samples, every call is forwarded as it is:
/// the one-process term. Not a ``LikelihoodSampleLosses`` (labels drawn per sample would advance
/// each rank's generator differently), so the sampled-label Fisher is refused for it.
public struct DataParallelSamples<Local: SampleLosses>: SampleLosses {
    /// This rank's samples, as a data term of its own (its sample i is global sample `range.lowerBound + i`).
    public let local: Local
    /// The ranks that hold the other samples.
    public let communicator: any Communicator
    /// n, the number of samples over all ranks.
    public let sampleCount: Int
    /// The global indices of this rank's samples.
    public let range: Range<Int>

    /// Wraps this rank's samples.
    /// - Parameters:
    ///   - local: the samples ``samples(of:count:ranks:)`` gives this rank, in order.
    ///   - sampleCount: n over all ranks.
    /// - Throws: `BilevelError.dimensionMismatch` when `local` does not hold exactly this rank's
    ///   block of n; the caller should also check with ``Communicator/requireAgreement(_:about:)``
    ///   that every rank has the same n and p.
    public init(local: Local, sampleCount n: Int, communicator: any Communicator) throws {
        let range = Self.samples(of: communicator.rank, count: n, ranks: communicator.size)
        guard local.sampleCount == range.count else {
            throw BilevelError.dimensionMismatch(operation: "DataParallelSamples.init",
                                                 expected: "\(range.count) samples on rank \(communicator.rank) of n = \(n)",
                                                 actual: "\(local.sampleCount)")
        }
        self.local = local
        self.communicator = communicator
        sampleCount = n
        self.range = range
    }

    /// The global indices of rank r's samples: consecutive blocks, the first `n mod R` ranks one
    /// longer (the ``RowShard`` partition; ranks beyond n hold none).
    public static func samples(of r: Int, count n: Int, ranks: Int) -> Range<Int> {
        RowShard.rows(of: r, dimension: n, ranks: ranks)
    }

    public var parameterCount: Int { local.parameterCount }

    public func initialParameters() -> [Double] { local.initialParameters() }

    /// The positions (in `samples`) and local indices of the samples this rank holds; `nil`
    /// local indices when `samples` is `nil` (all of them, in order).
    func localPart(_ samples: [Int]?) -> (positions: [Int], indices: [Int]?) {
        guard let samples else { return (Array(range.lowerBound..<range.upperBound), nil) }
        var positions: [Int] = [], indices: [Int] = []
        for (k, i) in samples.enumerated() where range.contains(i) {
            positions.append(k)
            indices.append(i - range.lowerBound)
        }
        return (positions, indices)
    }

    /// Per-sample values: this rank's entries in place, zeros elsewhere, summed across ranks.
    func gathered(_ samples: [Int]?, _ compute: ([Int]?) throws -> [Double]) throws -> [Double] {
        let (positions, indices) = localPart(samples)
        var out = [Double](repeating: 0, count: samples?.count ?? sampleCount)
        if !positions.isEmpty {
            let values = try compute(indices)
            for (k, position) in positions.enumerated() { out[position] = values[k] }
        }
        try communicator.allreduceSum(&out)
        return out
    }

    public func losses(at y: [Double], samples: [Int]?) throws -> [Double] {
        if !communicator.isDistributed { return try local.losses(at: y, samples: samples) }
        return try gathered(samples) { try local.losses(at: y, samples: $0) }
    }

    public func gradientProjections(at y: [Double], along u: [Double], samples: [Int]?) throws -> [Double] {
        if !communicator.isDistributed { return try local.gradientProjections(at: y, along: u, samples: samples) }
        return try gathered(samples) { try local.gradientProjections(at: y, along: u, samples: $0) }
    }

    /// `G C = Σ_ranks G_r C_r`: this rank's combination over its samples of the minibatch (the
    /// rows of C that belong to them), then one allreduce of the p×s block.
    /// - Complexity: the local combination, plus an allreduce of p·s doubles.
    public func gradientCombinations(at y: [Double], samples: [Int]?, coefficients: Matrix, into result: inout Matrix) throws {
        if !communicator.isDistributed {
            try local.gradientCombinations(at: y, samples: samples, coefficients: coefficients, into: &result)
            return
        }
        let (positions, indices) = localPart(samples)
        if positions.isEmpty {
            result.storage.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        } else {
            var mine = Matrix(rows: positions.count, columns: coefficients.columns)
            for j in 0..<coefficients.columns {
                for (k, position) in positions.enumerated() { mine[k, j] = coefficients[position, j] }
            }
            try local.gradientCombinations(at: y, samples: indices, coefficients: mine, into: &result)
        }
        try communicator.allreduceSum(&result.storage)
    }
}

extension DataParallelSamples: SecondOrderSampleLosses where Local: SecondOrderSampleLosses {
    /// `Σᵢ cᵢ ∇²ℓᵢ v` over the minibatch: each rank's part, one allreduce of p.
    public func hessianVectorProduct(at y: [Double], v: [Double], samples: [Int]?, coefficients: [Double],
                                     into result: inout [Double]) throws {
        if !communicator.isDistributed {
            try local.hessianVectorProduct(at: y, v: v, samples: samples, coefficients: coefficients, into: &result)
            return
        }
        let (positions, indices) = localPart(samples)
        if positions.isEmpty {
            result.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        } else {
            try local.hessianVectorProduct(at: y, v: v, samples: indices, coefficients: positions.map { coefficients[$0] },
                                           into: &result)
        }
        try communicator.allreduceSum(&result)
    }
}

extension DataParallelSamples: DenseHessianSampleLosses where Local: DenseHessianSampleLosses {
    /// `h += Σ_ranks Σ_{i on r} cᵢ ∇²ℓᵢ`: each rank's part in a p×p scratch, one allreduce of p².
    public func addHessian(at y: [Double], coefficients: [Double], to h: inout Matrix) throws {
        if !communicator.isDistributed {
            try local.addHessian(at: y, coefficients: coefficients, to: &h)
            return
        }
        var part = Matrix(rows: h.rows, columns: h.columns)
        if !range.isEmpty { try local.addHessian(at: y, coefficients: Array(coefficients[range]), to: &part) }
        try communicator.allreduceSum(&part.storage)
        BLAS.axpy(1, part.storage, &h.storage)
    }
}

extension DataParallelSamples: ClassifierSampleLosses where Local: ClassifierSampleLosses {
    /// The fraction correct over all n: each rank's count of correct samples (recovered exactly
    /// from its local fraction), summed, divided by n — the one-process value, bit for bit.
    public func accuracy(at y: [Double]) throws -> Double {
        if !communicator.isDistributed { return try local.accuracy(at: y) }
        var correct = [range.isEmpty ? 0 : (try local.accuracy(at: y) * Double(range.count)).rounded()]
        try communicator.allreduceSum(&correct)
        return correct[0] / Double(sampleCount)
    }
}
