import NHGDLinearAlgebra

/// The data term of a bilevel problem: per-sample losses `ℓᵢ(y)`, i ∈ 0..<n, of a model with p
/// parameters on a data set (ALGORITHMS.md §2):
///
/// ```
/// g(x, y) = (1/n) Σᵢ ωᵢ(x) ℓᵢ(y) + R(x, y)
/// ```
///
/// Its one gradient oracle returns **weighted combinations** of per-sample gradients
/// (ALGORITHMS.md §8a): for the minibatch's gradients `G = [g_{i₁} … g_{i_b}]` (p×b, never
/// formed) and a b×s coefficient matrix C, the p×s block `G C`, whose column j is the gradient
/// of the `C[:, j]`-weighted minibatch loss `Σᵢ C[i, j] ℓᵢ`. The SGD direction is one column
/// (`cᵢ = ωᵢ/b`), a Fisher sketch's compressed or sampled columns are further columns of the
/// same call (one forward pass), and per-sample gradients are `C = I` (for dense references
/// and tests only). A minimal conformer has four members:
///
/// ```swift
/// struct LeastSquares: SampleLosses {
///     let inputs: Matrix, targets: [Double]           // d × n, n
///     var parameterCount: Int { inputs.rows }
///     var sampleCount: Int { inputs.columns }
///     func losses(at y: [Double], samples: [Int]?) throws -> [Double] { … }
///     func gradientCombinations(at y: [Double], samples: [Int]?, coefficients: Matrix,
///                               into result: inout Matrix) throws { … }
/// }
/// ```
///
/// **Contract.** Arguments are not validated: the problem's inputs were checked when it was
/// built, and `(x, y)` where an estimator, the optimiser or ``checkOracles(_:at:_:step:maxDenseDimension:using:)``
/// was entered. Shapes are preconditions: `y.count == p`, sample indices in `0..<n` (`nil`
/// means all n samples, in order), `coefficients.rows` = the number of samples,
/// `result` p × `coefficients.columns`.
public protocol SampleLosses: Sendable {
    /// p, the number of model parameters.
    var parameterCount: Int { get }
    /// n, the number of samples.
    var sampleCount: Int { get }

    /// `ℓᵢ(y)` for each sample of `samples` (all n when `nil`), in that order.
    func losses(at y: [Double], samples: [Int]?) throws -> [Double]

    /// `result = G C`: column j is `Σᵢ C[i, j] ∇ℓ_{samples[i]}(y)` (p × s, overwritten).
    func gradientCombinations(at y: [Double], samples: [Int]?, coefficients: Matrix, into result: inout Matrix) throws

    /// `gᵢᵀu` for each sample: the directional derivatives `∇ℓᵢ(y)ᵀu`, which the cross product
    /// `J u` of an x-dependent sample weighting needs. The default forms per-sample gradients in
    /// blocks of 256 (p × 256 scratch); built-in models override it with one forward pass.
    func gradientProjections(at y: [Double], along u: [Double], samples: [Int]?) throws -> [Double]

    /// A starting point for y (zeros by default; a network draws its initial weights).
    func initialParameters() -> [Double]
}

/// A data term with Hessian-vector products.
public protocol SecondOrderSampleLosses: SampleLosses {
    /// `result = Σᵢ cᵢ ∇²ℓ_{samples[i]}(y) v` (p, overwritten), `coefficients` one per sample.
    func hessianVectorProduct(at y: [Double], v: [Double], samples: [Int]?, coefficients: [Double],
                              into result: inout [Double]) throws
}

/// A data term that can form its dense Hessian (small p only).
public protocol DenseHessianSampleLosses: SecondOrderSampleLosses {
    /// `h += Σᵢ cᵢ ∇²ℓᵢ(y)` over all n samples (`coefficients` of length n; h is p × p).
    func addHessian(at y: [Double], coefficients: [Double], to h: inout Matrix) throws
}

/// A data term that is a negative log-likelihood, `ℓᵢ(y) = −log p_y(bᵢ | aᵢ)`, and can draw
/// labels from the model's own predictive distribution (ALGORITHMS.md §8, "the sampled-label
/// Fisher"): with `b̃ᵢ ~ p_y(· | aᵢ)` and `g̃ᵢ = ∇ℓ(b̃ᵢ)`, `E[g̃ᵢ g̃ᵢᵀ]` is the Gauss–Newton
/// matrix, which for canonical-link models (softmax, logistic and Gaussian regression) is the
/// data Hessian, whatever the observed labels are (Kunstner, Balles & Hennig 2019).
public protocol LikelihoodSampleLosses: SampleLosses {
    /// As ``SampleLosses/gradientCombinations(at:samples:coefficients:into:)``, but the columns
    /// `sampledLabelColumns` use gradients at labels drawn from `p_y(· | aᵢ)` (one draw per
    /// sample per call, shared by those columns; `rng` draws them). The other columns use the
    /// observed labels. One forward pass serves both.
    func gradientCombinations(at y: [Double], samples: [Int]?, coefficients: Matrix, sampledLabelColumns: Range<Int>,
                              using rng: inout Xoshiro256StarStar, into result: inout Matrix) throws
}

/// A data term whose model predicts a class per sample.
public protocol ClassifierSampleLosses: SampleLosses {
    /// The fraction of samples whose predicted class (first maximum on ties) is their label.
    func accuracy(at y: [Double]) throws -> Double
}

extension SampleLosses {
    public func initialParameters() -> [Double] { [Double](repeating: 0, count: parameterCount) }

    public func gradientProjections(at y: [Double], along u: [Double], samples: [Int]?) throws -> [Double] {
        let indices = samples ?? Array(0..<sampleCount)
        var projections = [Double]()
        projections.reserveCapacity(indices.count)
        var start = 0
        while start < indices.count {
            let chunk = Array(indices[start..<min(indices.count, start + sampleBlockSize)])
            let gradients = try perSampleGradients(at: y, samples: chunk)
            var block = [Double](repeating: 0, count: chunk.count)
            try BLAS.gemv(.transpose, gradients, u, &block)
            projections += block
            start += chunk.count
        }
        return projections
    }

    /// The per-sample gradients `[gᵢ]` of `samples` as the columns of a p × b matrix (the
    /// combination with `C = I`). For dense references and tests: the inner loop never forms it.
    public func perSampleGradients(at y: [Double], samples: [Int]) throws -> Matrix {
        var result = Matrix(rows: parameterCount, columns: samples.count)
        try gradientCombinations(at: y, samples: samples, coefficients: .identity(samples.count), into: &result)
        return result
    }

    /// `(1/n) Σᵢ ℓᵢ(y)` over all samples (0 for an empty set).
    public func meanLoss(at y: [Double]) throws -> Double {
        let n = sampleCount
        if n == 0 { return 0 }
        return try losses(at: y, samples: nil).reduce(0, +) / Double(n)
    }

    /// `(1/n) Σᵢ ∇ℓᵢ(y)` over all samples, by one combination call.
    public func meanGradient(at y: [Double]) throws -> [Double] {
        let n = sampleCount
        var result = Matrix(rows: parameterCount, columns: 1)
        if n == 0 { return result.storage }
        try gradientCombinations(at: y, samples: nil, coefficients: Matrix(rows: n, columns: 1, repeating: 1 / Double(n)),
                                 into: &result)
        return result.storage
    }
}

extension LikelihoodSampleLosses {
    public func gradientCombinations(at y: [Double], samples: [Int]?, coefficients: Matrix,
                                     into result: inout Matrix) throws {
        var unused = Xoshiro256StarStar(seed: 0)
        try gradientCombinations(at: y, samples: samples, coefficients: coefficients, sampledLabelColumns: 0..<0,
                                 using: &unused, into: &result)
    }
}
