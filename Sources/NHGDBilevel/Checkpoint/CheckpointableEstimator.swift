import NHGDLinearAlgebra
import NHGDSketches

/// An estimator whose accumulated state (warm starts, a Fisher sketch, quasi-Newton pairs, the
/// SOBA direction) can be written into a checkpoint and restored, so that
/// ``BilevelOptimizer/checkpoint(identity:)`` and ``BilevelOptimizer/restore(checkpoint:identity:)``
/// continue a run bit for bit. The configuration (K, ranks, step sizes) is the estimator's
/// own, set by its initialiser and compared through the checkpoint's identity; only state is
/// written.
///
/// Every built-in estimator conforms (NHGD and nhgd-pcg when their sketch is
/// ``CheckpointableState``, as all the built-in sketches are). A restore reads and validates
/// everything before it changes the estimator.
public protocol CheckpointableEstimator: HypergradientEstimator {
    /// Appends the state.
    /// - Throws: ``CheckpointError/unsupported(_:)`` for a state that cannot be written.
    func writeEstimatorState(to writer: inout CheckpointWriter) throws
    /// Replaces the state with the one `reader` holds; vectors must have length p.
    mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) throws
}

/// Reads an optional p-vector (a warm start), checked for its length and finiteness.
func readOptionalVector(_ reader: inout CheckpointReader, _ p: Int, _ field: String) throws -> [Double]? {
    guard let v = try reader.readOptionalDoubles(count: p, field) else { return nil }
    guard v.firstNonFiniteIndex == nil else { throw CheckpointError.malformed("\(field) holds a NaN or an infinity") }
    return v
}
