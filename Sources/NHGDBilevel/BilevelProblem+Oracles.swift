import NHGDLinearAlgebra

// The oracles every method needs, derived once from a problem's terms. Unchecked beyond shape
// preconditions: validation happens where an estimator, the optimiser or `checkOracles` is
// entered (see `BilevelProblem`).

extension BilevelProblem {
    /// p, the number of inner (model) parameters.
    public var innerDimension: Int { data.parameterCount }
    /// n, the number of training samples.
    public var trainingCount: Int { data.sampleCount }

    public func initialOuter() -> [Double] { [Double](repeating: 0, count: outerDimension) }
    public func initialInner() -> [Double] { data.initialParameters() }

    public func metrics(x: [Double], y: [Double]) throws -> [String: Double] {
        ["validation_loss": try outer.value(x: x, y: y)]
    }

    public func innerValue(x: [Double], y: [Double]) throws -> Double {
        precondition(x.count == outerDimension && y.count == innerDimension, "innerValue: shapes")
        let n = trainingCount
        let losses = try data.losses(at: y, samples: nil)
        let weights = weighting.weights(x: x, samples: nil, sampleCount: n)
        var total = 0.0
        for i in 0..<n { total += weights[i] * losses[i] }
        return (n > 0 ? total / Double(n) : 0) + regularizer.value(x: x, y: y)
    }

    /// `ωᵢ(x)` of `samples` (all n when `nil`).
    public func sampleWeights(x: [Double], samples: [Int]?) -> [Double] {
        weighting.weights(x: x, samples: samples, sampleCount: trainingCount)
    }

    /// The inner gradient on `samples` (all n when `nil`),
    /// `∇ᵧg_B = (1/|B|) Σ_{i∈B} ωᵢ gᵢ + ∇ᵧR`, by one combination call (the column `ωᵢ/|B|`).
    /// - Complexity: one forward and backward pass over `samples`.
    public func innerGradient(x: [Double], y: [Double], samples: [Int]? = nil) throws -> [Double] {
        precondition(x.count == outerDimension && y.count == innerDimension, "innerGradient: shapes")
        let b = samples?.count ?? trainingCount
        var gradient = Matrix(rows: innerDimension, columns: 1)
        if b > 0 {
            let weights = sampleWeights(x: x, samples: samples)
            let coefficients = try! Matrix(rows: b, columns: 1, storage: weights.map { $0 / Double(b) })
            try data.gradientCombinations(at: y, samples: samples, coefficients: coefficients, into: &gradient)
        }
        regularizer.addGradient(x: x, y: y, scaledBy: 1, to: &gradient.storage)
        return gradient.storage
    }

    /// `diag ∇²ᵧᵧR(x, y)`, the regulariser's exact curvature that NHGD adds to its sketch.
    public func regularizerCurvature(x: [Double], y: [Double]) -> Diagonal {
        regularizer.curvature(x: x, y: y)
    }

    /// `J u = ∇²ₓᵧg(x, y) u` (length q): the weighting's part
    /// `(1/n) Σᵢ (gᵢᵀu) ∇ₓωᵢ` (one projection pass over the training data when ω depends on x)
    /// plus the regulariser's `∇²ₓᵧR u`.
    public func crossProduct(x: [Double], y: [Double], u: [Double]) throws -> [Double] {
        precondition(x.count == outerDimension && y.count == innerDimension && u.count == innerDimension,
                     "crossProduct: shapes")
        var result = [Double](repeating: 0, count: outerDimension)
        if weighting.dependsOnOuter, trainingCount > 0 {
            let projections = try data.gradientProjections(at: y, along: u, samples: nil)
            weighting.addCrossProduct(x: x, projections: projections, scaledBy: 1 / Double(trainingCount), to: &result)
        }
        regularizer.addCrossProduct(x: x, y: y, u: u, to: &result)
        return result
    }

    /// The outer objective f(x, y).
    public func outerValue(x: [Double], y: [Double]) throws -> Double {
        try outer.value(x: x, y: y)
    }

    /// `(∇ₓf, ∇ᵧf)` at (x, y).
    public func outerGradients(x: [Double], y: [Double]) throws -> (x: [Double], y: [Double]) {
        try outer.gradients(x: x, y: y)
    }
}

extension SecondOrderBilevelProblem {
    /// `H v` on the samples `samples` (the minibatch Hessian `(1/|B|) Σ ωᵢ ∇²ℓᵢ + ∇²ᵧᵧR`, with
    /// the regulariser's full curvature), or on all training data when `samples` is `nil`.
    public func hessianVectorProduct(x: [Double], y: [Double], v: [Double], samples: [Int]?,
                                     into result: inout [Double]) throws {
        precondition(x.count == outerDimension && y.count == innerDimension && v.count == innerDimension
                     && result.count == innerDimension, "hessianVectorProduct: shapes")
        let b = samples?.count ?? trainingCount
        if b > 0 {
            let coefficients = sampleWeights(x: x, samples: samples).map { $0 / Double(b) }
            try data.hessianVectorProduct(at: y, v: v, samples: samples, coefficients: coefficients, into: &result)
        } else {
            result = [Double](repeating: 0, count: innerDimension)
        }
        regularizer.addHessianProduct(x: x, y: y, v: v, to: &result)
    }
}

extension DenseHessianProblem {
    /// The dense p × p Hessian `∇²ᵧᵧg(x, y)` on all training data.
    /// - Throws: ``BilevelError/exceedsMemoryBudget(method:bytesNeeded:bytesAllowed:)`` when
    ///   p²·8 bytes exceed `maxBytes` (1 GiB by default), before anything is allocated.
    public func hessian(x: [Double], y: [Double], maxBytes: Int = 1 << 30) throws -> Matrix {
        let p = innerDimension
        let (bytes, overflow) = p.multipliedReportingOverflow(by: p * 8)
        guard !overflow, bytes <= maxBytes else {
            throw BilevelError.exceedsMemoryBudget(method: "dense \(p)×\(p) Hessian", bytesNeeded: overflow ? .max : bytes,
                                                   bytesAllowed: maxBytes)
        }
        let n = trainingCount
        var h = Matrix(rows: p, columns: p)
        if n > 0 {
            let coefficients = sampleWeights(x: x, samples: nil).map { $0 / Double(n) }
            try data.addHessian(at: y, coefficients: coefficients, to: &h)
        }
        let curvature = regularizerCurvature(x: x, y: y)
        for j in 0..<p { h[j, j] += curvature[j] }
        return h
    }
}
