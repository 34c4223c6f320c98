import Foundation

/// How the outer variable moves along the hypergradient `d`.
public enum OuterUpdateRule: Sendable, Equatable {
    /// `x ← x − γ d`.
    case sgd
    /// Adam (Kingma & Ba 2015) with bias correction:
    /// `m ← β₁m + (1−β₁)d`, `v ← β₂v + (1−β₂)d²`, `x ← x − γ m̂ / (√v̂ + ε)`.
    case adam(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8)
}

/// The explicit state of an outer update rule (optax-style `init`/`update`).
struct OuterUpdateState: Sendable {
    var rule: OuterUpdateRule
    var firstMoment: [Double]
    var secondMoment: [Double]
    var step = 0

    init(rule: OuterUpdateRule, dimension: Int) {
        self.rule = rule
        firstMoment = [Double](repeating: 0, count: dimension)
        secondMoment = [Double](repeating: 0, count: dimension)
    }

    /// Moves `x` by one step along `-d` with learning rate γ.
    mutating func apply(_ d: [Double], learningRate gamma: Double, to x: inout [Double]) {
        step += 1
        switch rule {
        case .sgd:
            for j in x.indices { x[j] -= gamma * d[j] }
        case let .adam(beta1, beta2, epsilon):
            let c1 = 1 - pow(beta1, Double(step)), c2 = 1 - pow(beta2, Double(step))
            for j in x.indices {
                firstMoment[j] = beta1 * firstMoment[j] + (1 - beta1) * d[j]
                secondMoment[j] = beta2 * secondMoment[j] + (1 - beta2) * d[j] * d[j]
                x[j] -= gamma * (firstMoment[j] / c1) / ((secondMoment[j] / c2).squareRoot() + epsilon)
            }
        }
    }
}
