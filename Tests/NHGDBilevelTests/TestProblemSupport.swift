import NHGDLinearAlgebra
import NHGDSketches
@testable import NHGDBilevel
import NHGDExperiments

extension BilevelProblem {
    /// The per-sample gradients of `samples` at y (the combination with C = I) and their weights
    /// at x: the dense reference the estimators' tests build Fisher matrices from.
    func perSampleGradients(x: [Double], y: [Double], samples: [Int]) throws -> (gradients: Matrix, weights: [Double]) {
        (try data.perSampleGradients(at: y, samples: samples), sampleWeights(x: x, samples: samples))
    }
}

extension NaturalHypergradient {
    /// Feeds one block of per-sample gradients the way the inner loop does with
    /// `IngestCompression.none`: columns `√(β wᵢ / b) gᵢ` with forgetting β.
    mutating func observe(perSample gradients: Matrix, weights: [Double], forgetting beta: Double) throws {
        let b = gradients.columns
        var scaled = gradients
        for j in 0..<b {
            let s = (beta * weights[j] / Double(b)).squareRoot()
            for i in 0..<gradients.rows { scaled[i, j] *= s }
        }
        try observe(scaled, columns: 0..<b, forgetting: beta)
    }
}

/// The shipped MNIST-5k, loaded once for the tests that use it.
let shippedMNIST = Result { try Dataset.mnist5k() }
