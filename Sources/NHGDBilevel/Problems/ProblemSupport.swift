import Foundation
import NHGDLinearAlgebra

// Shared internal helpers of the built-in problems: argument checks, numerically stable
// scalar functions and blockwise iteration over sample columns.

/// Throws unless every index is in `0..<count`.
func requireSamples(_ samples: [Int], _ count: Int) throws {
    if let bad = samples.first(where: { $0 < 0 || $0 >= count }) {
        throw BilevelError.sampleOutOfRange(index: bad, count: count)
    }
}

/// Throws unless `v` has length `n` and finite entries.
func requireFiniteVector(_ v: [Double], _ n: Int, _ operation: String, _ argument: String) throws {
    try requireCount(v, n, operation, argument)
    try requireAllFinite(v, operation, argument)
}

/// Throws unless the per-sample output block has shape p × b and the weights length b.
func requireGradientBlock(_ gradients: Matrix, _ weights: [Double], p: Int, b: Int, _ operation: String) throws {
    guard gradients.rows == p, gradients.columns == b, weights.count == b else {
        throw BilevelError.dimensionMismatch(
            operation: operation, expected: "gradients \(p)×\(b) and \(b) weights",
            actual: "gradients \(gradients.rows)×\(gradients.columns) and \(weights.count) weights")
    }
}

/// `σ(t) = 1 / (1 + e^{−t})`, evaluated without overflow for either sign.
@inline(__always)
func logistic(_ t: Double) -> Double {
    if t >= 0 { return 1 / (1 + exp(-t)) }
    let e = exp(t)
    return e / (1 + e)
}

/// `log(1 + e^t)` without overflow or loss of precision for large `|t|`.
@inline(__always)
func softplus(_ t: Double) -> Double {
    max(t, 0) + log1p(exp(-abs(t)))
}

/// Samples processed per BLAS block by the full-data passes.
let sampleBlockSize = 256

/// Calls `body(block, columns, indices)` for consecutive blocks of at most `blockSize` samples:
/// `block[:, columns]` are the feature columns of the samples `indices`.
///
/// With `samples == nil` the blocks are column ranges of `features` itself (no copy); otherwise
/// each chunk of `samples` is gathered into one scratch matrix allocated once per call.
func forEachSampleBlock(
    _ features: Matrix, samples: [Int]?, blockSize: Int = sampleBlockSize,
    _ body: (_ block: Matrix, _ columns: Range<Int>, _ indices: ArraySlice<Int>) throws -> Void
) throws {
    if let samples {
        var scratch = Matrix(rows: features.rows, columns: min(blockSize, samples.count))
        var start = 0
        while start < samples.count {
            let end = min(start + blockSize, samples.count)
            let chunk = samples[start..<end]
            gatherColumns(features, Array(chunk), into: &scratch)
            try body(scratch, 0..<chunk.count, chunk)
            start = end
        }
    } else {
        let n = features.columns
        let all = Array(0..<n)
        var start = 0
        while start < n {
            let end = min(start + blockSize, n)
            try body(features, start..<end, all[start..<end])
            start = end
        }
    }
}

extension BilevelProblem {
    /// Checks that `x` (length q) and `y` (length p) have the problem's dimensions and are
    /// finite, naming `operation` in the error: the first line of every built-in oracle.
    func check(_ x: [Double], _ y: [Double], _ operation: String) throws {
        try requireFiniteVector(x, outerDimension, operation, "x")
        try requireFiniteVector(y, innerDimension, operation, "y")
    }
}
