import Foundation
import NHGDBilevel
import NHGDLinearAlgebra
import NHGDTestSupport

// A bilevel problem written from scratch against the public protocols, as a user would write
// their own, independently of the library's models, so that the estimators are checked against
// closed forms computed here with plain loops (ALGORITHMS.md §7):
//
// ```
// g(x, y) = (1/2n) ‖Aᵀy − b‖² + ½ Σⱼ e^{xⱼ} yⱼ²,   f(x, y) = (1/2m) ‖Vᵀy − c‖²
// H = A Aᵀ/n + diag(e^x),   y*(x) = H⁻¹ A b / n,   J u = e^x ⊙ y ⊙ u,   ∇ₓf = 0
// ```
//
// with the training inputs as the columns of `A` (p × n) and validation inputs those of `V`.

/// The data term: `ℓᵢ(y) = ½ (aᵢᵀy − bᵢ)²`, `gᵢ = rᵢ aᵢ`, `∇²ℓᵢ = aᵢaᵢᵀ` (rᵢ = aᵢᵀy − bᵢ).
struct LeastSquaresLosses: DenseHessianSampleLosses {
    let features: Matrix   // p × n
    let targets: [Double]  // n

    var parameterCount: Int { features.rows }
    var sampleCount: Int { features.columns }

    private func residual(_ y: [Double], _ i: Int) -> Double {
        var r = -targets[i]
        for j in 0..<parameterCount { r += features[j, i] * y[j] }
        return r
    }

    func losses(at y: [Double], samples: [Int]?) throws -> [Double] {
        (samples ?? Array(0..<sampleCount)).map { 0.5 * pow(residual(y, $0), 2) }
    }

    func gradientCombinations(at y: [Double], samples: [Int]?, coefficients: Matrix, into result: inout Matrix) throws {
        let indices = samples ?? Array(0..<sampleCount)
        result = Matrix(rows: parameterCount, columns: coefficients.columns)
        for (k, i) in indices.enumerated() {
            let r = residual(y, i)
            for column in 0..<coefficients.columns {
                for j in 0..<parameterCount { result[j, column] += coefficients[k, column] * r * features[j, i] }
            }
        }
    }

    func hessianVectorProduct(at y: [Double], v: [Double], samples: [Int]?, coefficients: [Double],
                              into result: inout [Double]) throws {
        result = [Double](repeating: 0, count: parameterCount)
        for (k, i) in (samples ?? Array(0..<sampleCount)).enumerated() {
            var av = 0.0
            for j in 0..<parameterCount { av += features[j, i] * v[j] }
            for j in 0..<parameterCount { result[j] += coefficients[k] * av * features[j, i] }
        }
    }

    func addHessian(at y: [Double], coefficients: [Double], to h: inout Matrix) throws {
        for i in 0..<sampleCount {
            for column in 0..<parameterCount {
                for row in 0..<parameterCount { h[row, column] += coefficients[i] * features[row, i] * features[column, i] }
            }
        }
    }
}

/// The whole problem: four terms and the starting point (five members; the weighting is the
/// protocol's default, uniform).
struct LeastSquaresProblem: DenseHessianProblem {
    let data: LeastSquaresLosses
    let outer: ValidationLoss<LeastSquaresLosses>
    let regularizer = PerFeatureL2()
    var outerDimension: Int { data.parameterCount }
    func initialOuter() -> [Double] { [Double](repeating: log(0.1), count: outerDimension) }
}

// MARK: - Construction and dense references (test scaffolding, not part of the problem)

extension LeastSquaresProblem {
    init(features: Matrix, targets: [Double], validationFeatures: Matrix, validationTargets: [Double]) {
        data = LeastSquaresLosses(features: features, targets: targets)
        outer = ValidationLoss(LeastSquaresLosses(features: validationFeatures, targets: validationTargets))
    }

    /// Gaussian inputs, a Gaussian true model and noise of standard deviation `noise`.
    static func random(p: Int, n: Int, m: Int, noise: Double = 0.5, using rng: inout Xoshiro256StarStar) -> Self {
        let truth = (0..<p).map { _ in rng.nextGaussian() }
        func sample(_ count: Int) -> (Matrix, [Double]) {
            var a = Matrix(rows: p, columns: count)
            var b = [Double](repeating: 0, count: count)
            for i in 0..<count {
                var dot = 0.0
                for j in 0..<p {
                    a[j, i] = rng.nextGaussian()
                    dot += a[j, i] * truth[j]
                }
                b[i] = dot + noise * rng.nextGaussian()
            }
            return (a, b)
        }
        let (a, b) = sample(n), (v, c) = sample(m)
        return Self(features: a, targets: b, validationFeatures: v, validationTargets: c)
    }

    var features: Matrix { data.features }
    var targets: [Double] { data.targets }

    /// `H = A Aᵀ/n + diag(e^x)` by plain loops.
    func referenceHessian(x: [Double]) -> Matrix {
        var h = referenceProduct(features, features.transposed)
        for k in h.storage.indices { h.storage[k] /= Double(trainingCount) }
        for j in 0..<innerDimension { h[j, j] += exp(x[j]) }
        return h
    }

    /// `y*(x) = H⁻¹ A b / n`.
    func closedFormInnerSolution(x: [Double]) throws -> [Double] {
        var rhs = referenceProduct(features, targets)
        for j in rhs.indices { rhs[j] /= Double(trainingCount) }
        return try denseSolve(referenceHessian(x: x), rhs)
    }

    /// `u = H⁻¹∇ᵧf(x, y)`, dense.
    func adjoint(x: [Double], y: [Double]) throws -> [Double] {
        try denseSolve(referenceHessian(x: x), outerGradients(x: x, y: y).y)
    }

    /// The implicit hypergradient at (x, y): `−e^x ⊙ y ⊙ H⁻¹∇ᵧf` (exact at y = y*).
    func implicitHypergradient(x: [Double], y: [Double]) throws -> [Double] {
        let u = try adjoint(x: x, y: y)
        return (0..<outerDimension).map { -exp(x[$0]) * y[$0] * u[$0] }
    }

    /// The componentwise size of the inner gradient's terms,
    /// `(1/n) Σᵢ |aᵢ| (|aᵢ|ᵀ|y| + |bᵢ|) + e^x ⊙ |y|`, which bounds its rounding error.
    func gradientMagnitude(x: [Double], y: [Double]) -> [Double] {
        var magnitude = (0..<innerDimension).map { exp(x[$0]) * abs(y[$0]) }
        for i in 0..<trainingCount {
            var r = abs(targets[i])
            for j in 0..<innerDimension { r += abs(features[j, i]) * abs(y[j]) }
            for j in 0..<innerDimension { magnitude[j] += r * abs(features[j, i]) / Double(trainingCount) }
        }
        return magnitude
    }

    /// Extreme eigenvalues (μ, L) of H.
    func spectrumBounds(x: [Double]) throws -> (mu: Double, l: Double) {
        let values = try SymmetricEigendecomposition(referenceHessian(x: x)).values
        return (values.first!, values.last!)
    }
}
