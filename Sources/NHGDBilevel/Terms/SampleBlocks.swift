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
            gatherColumns(inputs, samples[start..<end], into: &scratch)
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

/// Copies the columns `indices` of `source` into the leading columns of `destination`
/// (`destination.rows == source.rows`, at least `indices.count` columns). Indices are trusted.
/// - Complexity: O(rows · indices.count), one contiguous copy per column.
func gatherColumns(_ source: Matrix, _ indices: some Collection<Int>, into destination: inout Matrix) {
    let d = source.rows
    precondition(destination.rows == d && destination.columns >= indices.count)
    if d == 0 { return }
    source.storage.withUnsafeBufferPointer { src in
        destination.storage.withUnsafeMutableBufferPointer { dst in
            for (j, i) in indices.enumerated() {
                (dst.baseAddress! + j * d).update(from: src.baseAddress! + i * d, count: d)
            }
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
