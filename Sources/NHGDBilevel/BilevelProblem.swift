import NHGDLinearAlgebra

/// A bilevel problem with a statistical inner problem (ALGORITHMS.md §1–2):
///
/// ```
/// minimise over x   Φ(x) = f(x, y*(x)),    y*(x) = argmin_y g(x, y),
/// g(x, y) = (1/n) Σᵢ ωᵢ(x) ℓᵢ(y) + R(x, y)
/// ```
///
/// `x ∈ ℝ^q` are the hyperparameters, `y ∈ ℝ^p` the model parameters. A conforming type
/// supplies the first-order oracles every method needs; second-order oracles live in
/// ``SecondOrderBilevelProblem`` and a closed-form Hessian in ``DenseHessianProblem``, so a
/// problem that cannot supply them says so in its type and estimators that need them do not
/// compile against it.
///
/// All vector outputs are written into caller-owned storage of the stated length, so an
/// inner loop does not allocate. Implementations validate lengths and throw
/// ``BilevelError`` on mismatch.
public protocol BilevelProblem: Sendable {
    /// p, the number of inner (model) parameters.
    var innerDimension: Int { get }
    /// q, the number of outer parameters (hyperparameters).
    var outerDimension: Int { get }
    /// n, the number of training samples (the index range of per-sample oracles).
    var trainingCount: Int { get }
    /// m, the number of validation samples.
    var validationCount: Int { get }

    /// A sensible starting point for x (length q).
    func initialOuter() -> [Double]
    /// A sensible starting point for y (length p).
    func initialInner() -> [Double]

    /// Per-sample gradients `gᵢ = ∇ℓᵢ(y)` of the likelihood part for the training samples
    /// `samples`, written as the columns of `gradients` (p × samples.count, caller-owned),
    /// and their weights `ωᵢ(x)` into `weights` (length samples.count).
    func perSampleGradients(
        x: [Double], y: [Double], samples: [Int], into gradients: inout Matrix, weights: inout [Double]
    ) throws

    /// `∇_y R(x, y)` into `gradient` (length p).
    func regularizerGradient(x: [Double], y: [Double], into gradient: inout [Double]) throws

    /// `diag ∇²_yy R(x, y)` (length p): the regulariser's exact curvature, which NHGD adds
    /// to the Fisher sketch.
    func regularizerCurvature(x: [Double], y: [Double]) throws -> [Double]

    /// `J u = ∇²_xy g(x, y) u` (length q).
    func crossProduct(x: [Double], y: [Double], u: [Double]) throws -> [Double]

    /// The inner objective g(x, y) on all training data.
    func innerValue(x: [Double], y: [Double]) throws -> Double

    /// The full-batch inner gradient `∇ᵧg = (1/n) Σ ωᵢ gᵢ + ∇ᵧR` (length p). A default
    /// implementation assembles it from blocks of per-sample gradients
    /// (``blockwiseInnerGradient(x:y:blockSize:)``); problems with a cheaper closed form
    /// (one `gemm` instead of a p×b block per 256 samples) override it.
    func innerGradient(x: [Double], y: [Double]) throws -> [Double]

    /// The outer objective f(x, y).
    func outerValue(x: [Double], y: [Double]) throws -> Double

    /// `(∇_x f, ∇_y f)` at (x, y).
    func outerGradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double])

    /// Task metrics at (x, y), for example `validation_accuracy`, `test_accuracy`, `auroc`.
    func metrics(x: [Double], y: [Double]) throws -> [String: Double]
}

/// A problem that can multiply by the inner Hessian `H = ∇²_yy g`.
public protocol SecondOrderBilevelProblem: BilevelProblem {
    /// `H v` on the training samples `samples` (the minibatch Hessian, with the regulariser's
    /// full curvature), or on all training data when `samples` is `nil`.
    func hessianVectorProduct(
        x: [Double], y: [Double], v: [Double], samples: [Int]?, into result: inout [Double]
    ) throws
}

/// A problem that can form the dense inner Hessian in closed form (small p only).
public protocol DenseHessianProblem: SecondOrderBilevelProblem {
    /// The p×p Hessian `∇²_yy g(x, y)` on all training data.
    func hessian(x: [Double], y: [Double]) throws -> Matrix
}

extension BilevelProblem {
    public func innerGradient(x: [Double], y: [Double]) throws -> [Double] {
        try blockwiseInnerGradient(x: x, y: y)
    }

    /// `∇ᵧg = (1/n) Σ ωᵢ gᵢ + ∇ᵧR` computed in blocks of `blockSize` samples through
    /// ``perSampleGradients(x:y:samples:into:weights:)``: one p×blockSize scratch block and one
    /// `gemv` per block.
    public func blockwiseInnerGradient(x: [Double], y: [Double], blockSize: Int = 256) throws -> [Double] {
        let p = innerDimension, n = trainingCount
        var total = [Double](repeating: 0, count: p)
        let width = min(max(blockSize, 1), max(n, 1))
        var block = Matrix(rows: p, columns: width)
        var weights = [Double](repeating: 0, count: width)
        var indices = [Int]()
        indices.reserveCapacity(width)
        var start = 0
        while start < n {
            let count = min(width, n - start)
            if count != block.columns {  // the last, shorter block
                block.resizeColumns(to: count)
                weights.removeLast(weights.count - count)
            }
            indices.removeAll(keepingCapacity: true)
            indices.append(contentsOf: start..<(start + count))
            try perSampleGradients(x: x, y: y, samples: indices, into: &block, weights: &weights)
            try BLAS.gemv(.none, alpha: 1 / Double(n), block, weights, beta: 1, &total)
            start += count
        }
        var r = [Double](repeating: 0, count: p)
        try regularizerGradient(x: x, y: y, into: &r)
        BLAS.axpy(1, r, &total)
        return total
    }
}
