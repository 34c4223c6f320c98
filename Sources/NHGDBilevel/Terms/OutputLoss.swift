import Foundation
import NHGDLinearAlgebra

/// The loss of one sample as a function of a model's K outputs `z` and the sample's target t
/// (ALGORITHMS.md §7): `ℓ(z, t)`, the residual `ρ = ∂ℓ/∂z` and the curvature `Λ = ∂²ℓ/∂z²`.
/// A model (``LinearModel``, ``SparseLinearModel``) computes the outputs of a block of samples
/// as the columns of a K × b matrix and hands the block to its loss; per-sample gradients are
/// then `gᵢ = aᵢ ⊗ ρᵢ` and Hessians `aᵢaᵢᵀ ⊗ Λᵢ`.
///
/// Every loss here is the negative log-likelihood of a canonical-link model, so `Λ` is the
/// covariance of the residual under the model (`E_{t̃ ~ p(·|z)}[ρ̃ρ̃ᵀ] = Λ`): what makes the
/// sampled-label Fisher equal the Hessian (ALGORITHMS.md §8).
///
/// All methods act on the leading `count` columns of their K × · blocks in place and are
/// unchecked (the models validate targets at construction, see ``isValidTarget(_:)``).
public protocol OutputLoss: Sendable {
    /// K, the outputs per sample.
    var outputCount: Int { get }
    /// Whether `t` is a target this loss accepts (for example a class index in 0..<K).
    func isValidTarget(_ t: Double) -> Bool
    /// `ℓ(zⱼ, tⱼ)` from the raw outputs.
    func losses(outputs z: Matrix, count: Int, targets: [Double]) -> [Double]
    /// Raw outputs → the model's state at them (the prediction: z itself, σ(z), softmax(z)).
    func prepare(_ outputs: inout Matrix, count: Int)
    /// State → residual `ρⱼ = ∂ℓ/∂z` at the observed targets.
    func residuals(_ state: inout Matrix, count: Int, targets: [Double])
    /// State → residual at a target drawn from the model's predictive distribution `p(· | zⱼ)`.
    func sampledResiduals(_ state: inout Matrix, count: Int, using rng: inout some RandomNumberGenerator)
    /// `directions[:, j] ← Λⱼ directions[:, j]`, with Λ evaluated at the state.
    func curvatureProducts(state: Matrix, _ directions: inout Matrix, count: Int)
}

extension OutputLoss {
    /// Throws unless there are `count` targets, each one this loss accepts.
    /// - Throws: ``BilevelError/dimensionMismatch(operation:expected:actual:)`` or
    ///   ``BilevelError/invalidHyperparameter(name:value:requirement:)`` naming the first bad target.
    func validate(targets: [Double], count: Int, operation: String) throws {
        try requireCount(targets, count, operation, "targets")
        if let bad = targets.firstIndex(where: { !isValidTarget($0) }) {
            throw BilevelError.invalidHyperparameter(name: "targets[\(bad)]", value: "\(targets[bad])",
                                                     requirement: "a target \(Self.self) accepts")
        }
    }
}

/// A loss whose model predicts a class.
public protocol ClassificationLoss: OutputLoss {
    /// The predicted class of column j of the raw outputs.
    func predictedClass(outputs z: Matrix, column j: Int) -> Int
}

/// Gaussian regression, `ℓ = (t − z)² / (2s²)` with noise scale s (K = 1):
/// `ρ = (z − t)/s²`, `Λ = 1/s²`; a sampled target is `t̃ = z + s·ε`, `ε ~ N(0, 1)`, so
/// `ρ̃ = −ε/s` and `E[ρ̃²] = 1/s² = Λ`.
public struct SquaredError: OutputLoss, Equatable {
    /// s > 0.
    public let noise: Double
    public init(noise: Double = 1) { self.noise = noise }
    public var outputCount: Int { 1 }
    public func isValidTarget(_ t: Double) -> Bool { t.isFinite }

    public func losses(outputs z: Matrix, count: Int, targets: [Double]) -> [Double] {
        let scale = 1 / (2 * noise * noise)
        return (0..<count).map { j in
            let r = targets[j] - z.storage[j]
            return r * r * scale
        }
    }

    public func prepare(_ outputs: inout Matrix, count: Int) {}

    public func residuals(_ state: inout Matrix, count: Int, targets: [Double]) {
        let inverseVariance = 1 / (noise * noise)
        for j in 0..<count { state.storage[j] = (state.storage[j] - targets[j]) * inverseVariance }
    }

    public func sampledResiduals(_ state: inout Matrix, count: Int, using rng: inout some RandomNumberGenerator) {
        for j in 0..<count { state.storage[j] = -rng.nextGaussian() / noise }
    }

    public func curvatureProducts(state: Matrix, _ directions: inout Matrix, count: Int) {
        let inverseVariance = 1 / (noise * noise)
        for j in 0..<count { directions.storage[j] *= inverseVariance }
    }
}

/// Logistic regression, labels t ∈ {0, 1} (K = 1): `ℓ = log(1 + e^z) − t z`, `π = σ(z)`,
/// `ρ = π − t`, `Λ = π(1 − π)`; a sampled label is `t̃ ~ Bernoulli(π)`, so `E[ρ̃²] = Λ`.
/// A sample is predicted positive when z > 0.
public struct BinaryCrossEntropy: ClassificationLoss, Equatable {
    public init() {}
    public var outputCount: Int { 1 }
    public func isValidTarget(_ t: Double) -> Bool { t == 0 || t == 1 }

    public func losses(outputs z: Matrix, count: Int, targets: [Double]) -> [Double] {
        (0..<count).map { j in softplus(z.storage[j]) - targets[j] * z.storage[j] }
    }

    public func prepare(_ outputs: inout Matrix, count: Int) {
        for j in 0..<count { outputs.storage[j] = logistic(outputs.storage[j]) }
    }

    public func residuals(_ state: inout Matrix, count: Int, targets: [Double]) {
        for j in 0..<count { state.storage[j] -= targets[j] }
    }

    public func sampledResiduals(_ state: inout Matrix, count: Int, using rng: inout some RandomNumberGenerator) {
        for j in 0..<count {
            let pi = state.storage[j]
            state.storage[j] = pi - (Double(rng.next() >> 11) * 0x1.0p-53 < pi ? 1 : 0)
        }
    }

    public func curvatureProducts(state: Matrix, _ directions: inout Matrix, count: Int) {
        for j in 0..<count {
            let pi = state.storage[j]
            directions.storage[j] *= pi * (1 - pi)
        }
    }

    public func predictedClass(outputs z: Matrix, column j: Int) -> Int { z.storage[j] > 0 ? 1 : 0 }
}

/// Softmax regression over K classes, labels t ∈ 0..<K: `ℓ = log Σ_c e^{z_c} − z_t`,
/// `π = softmax(z)`, `ρ = π − e_t`, `Λ = diag π − ππᵀ`; a sampled label is `t̃ ~ Categorical(π)`,
/// and `E[(π − e_t̃)(π − e_t̃)ᵀ] = diag π − ππᵀ = Λ`. The prediction is the first arg-max.
public struct SoftmaxCrossEntropy: ClassificationLoss, Equatable {
    /// K ≥ 2.
    public let classCount: Int
    public init(classCount: Int) { self.classCount = classCount }
    public var outputCount: Int { classCount }
    public func isValidTarget(_ t: Double) -> Bool { t >= 0 && t < Double(classCount) && t == t.rounded() }

    /// `log Σ_c e^{z_c − max z} − (z_t − max z)`: no exponential overflows, and a tiny
    /// probability of the label costs no precision (its logarithm is never taken).
    public func losses(outputs z: Matrix, count: Int, targets: [Double]) -> [Double] {
        let k = classCount
        return z.storage.withUnsafeBufferPointer { zp in
            (0..<count).map { j in
                let base = j * k
                var top = -Double.infinity
                for c in 0..<k { top = max(top, zp[base + c]) }
                var total = 0.0
                for c in 0..<k { total += exp(zp[base + c] - top) }
                return log(total) - (zp[base + Int(targets[j])] - top)
            }
        }
    }

    public func prepare(_ outputs: inout Matrix, count: Int) {
        let k = classCount
        outputs.storage.withUnsafeMutableBufferPointer { zp in
            for j in 0..<count {
                let base = j * k
                var top = -Double.infinity
                for c in 0..<k { top = max(top, zp[base + c]) }
                var total = 0.0
                for c in 0..<k {
                    let e = exp(zp[base + c] - top)
                    zp[base + c] = e
                    total += e
                }
                let inverse = 1 / total
                for c in 0..<k { zp[base + c] *= inverse }
            }
        }
    }

    public func residuals(_ state: inout Matrix, count: Int, targets: [Double]) {
        for j in 0..<count { state.storage[j * classCount + Int(targets[j])] -= 1 }
    }

    public func sampledResiduals(_ state: inout Matrix, count: Int, using rng: inout some RandomNumberGenerator) {
        let k = classCount
        for j in 0..<count {
            let u = Double(rng.next() >> 11) * 0x1.0p-53
            var cumulative = 0.0
            var drawn = k - 1  // the last class takes the rounding remainder of Σ π
            for c in 0..<k {
                cumulative += state.storage[j * k + c]
                if u < cumulative { drawn = c; break }
            }
            state.storage[j * k + drawn] -= 1
        }
    }

    public func curvatureProducts(state: Matrix, _ directions: inout Matrix, count: Int) {
        let k = classCount
        state.storage.withUnsafeBufferPointer { pp in
            directions.storage.withUnsafeMutableBufferPointer { dp in
                for j in 0..<count {
                    let base = j * k
                    var mean = 0.0
                    for c in 0..<k { mean += pp[base + c] * dp[base + c] }
                    for c in 0..<k { dp[base + c] = pp[base + c] * (dp[base + c] - mean) }
                }
            }
        }
    }

    public func predictedClass(outputs z: Matrix, column j: Int) -> Int {
        let base = j * classCount
        var best = 0
        for c in 1..<classCount where z.storage[base + c] > z.storage[base + best] { best = c }
        return best
    }
}
