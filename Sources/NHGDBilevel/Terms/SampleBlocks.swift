import Foundation
import NHGDLinearAlgebra

// Blockwise iteration over the samples of a data term, shared by the built-in models.

/// Samples processed per BLAS block by the built-in models.
let sampleBlockSize = 256

/// Calls `body(block, columns, offset)` for consecutive blocks of at most `blockSize` samples:
/// `block[:, columns]` are the input columns of the samples `indices[offset..<offset + columns.count]`
/// (of `0..<n` in order when `samples` is `nil`).
///
/// With `samples == nil` the blocks are column ranges of `inputs` itself (no copy); otherwise
/// each chunk of `samples` is gathered into one scratch matrix allocated once per call.
func forEachSampleBlock(
    _ inputs: Matrix, samples: [Int]?, blockSize: Int = sampleBlockSize,
    _ body: (_ block: Matrix, _ columns: Range<Int>, _ offset: Int) throws -> Void
) throws {
    if let samples {
        if samples.isEmpty { return }
        var scratch = Matrix(rows: inputs.rows, columns: min(blockSize, samples.count))
        var start = 0
        while start < samples.count {
            let end = min(start + blockSize, samples.count)
            inputs.gatherColumns(samples[start..<end], into: &scratch)
            try body(scratch, 0..<(end - start), start)
            start = end
        }
    } else {
        let n = inputs.columns
        var start = 0
        while start < n {
            let end = min(start + blockSize, n)
            try body(inputs, start..<end, start)
            start = end
        }
    }
}

/// The sample index of position `offset` of `samples` (`offset` itself when `nil`).
@inline(__always)
func sampleIndex(_ samples: [Int]?, _ offset: Int) -> Int {
    samples?[offset] ?? offset
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
