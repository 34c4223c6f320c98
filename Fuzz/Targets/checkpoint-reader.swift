// libFuzzer target: the checkpoint reader behind `nhgd --resume` (CheckpointFile.open,
// CheckpointReader, BilevelOptimizer.restore and the estimators' and sketches' restores).
//
// Input: byte 0 chooses how the rest reaches the reader —
//   0: as the whole file (the header checks: magic, version, length, checksum);
//   1: as the payload behind a valid header (length and checksum computed), so the identity and
//      state decoders see it;
//   2: as the state behind a valid header and the right identity, so every field decoder does;
//   3: as edits (offset, byte pairs) of a valid checkpoint, resealed, so the decoders see
//      near-valid states.
// Properties on every input: the reader never traps; a refusal is a CheckpointError of one
// line and leaves the optimiser unchanged (its own checkpoint, byte for byte); an accepted
// state re-checkpoints without trapping.
import Foundation
import NHGDLinearAlgebra
import NHGDSketches
@testable import NHGDBilevel

typealias Estimator = PreconditionedNaturalHypergradient<RidgeRegression, FrequentDirectionsSketch>

/// A tiny run (p = 4, n = 30) after two outer iterations: a sketch that has shrunk, a warm
/// start, Adam's moments, a column plan.
nonisolated(unsafe) let base: (optimizer: BilevelOptimizer<Estimator>, checkpoint: [UInt8]) = {
    var rng = Xoshiro256StarStar(seed: 1)
    let problem = try! RidgeRegression.synthetic(n: 30, m: 10, d: 4, noise: 1, using: &rng)
    let natural = try! NaturalHypergradient<RidgeRegression, FrequentDirectionsSketch>(
        sketch: FrequentDirectionsSketch(dimension: 4, rank: 2, compensation: .scalar), damping: 1e-2,
        columns: CurvatureColumnRequest(compression: .gaussian(columns: 2), seed: 3))
    var c = BilevelOptimizerConfiguration()
    c.outerIterations = 3
    c.innerSteps = 4
    c.batchSize = 8
    c.pipelined = false
    var optimizer = try! BilevelOptimizer(problem: problem, estimator: Estimator(natural, steps: 1), configuration: c)
    try! optimizer.step()
    try! optimizer.step()
    return (optimizer, try! optimizer.checkpoint(identity: "fuzz=1"))
}()

nonisolated(unsafe) var baseChecked = false

/// `payload` behind a header with its true length and checksum.
func sealed(_ payload: [UInt8]) -> [UInt8] {
    var w = CheckpointWriter()
    w.write(CheckpointFile.version)
    w.write(UInt32(0))
    w.write(UInt64(payload.count))
    w.write(FNV1a64.hash(payload))
    return CheckpointFile.magic + w.bytes + payload
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointReader(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let input = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    let rest = Array(input.dropFirst())
    let file: [UInt8]
    switch input[0] % 4 {
    case 0: file = rest
    case 1: file = sealed(rest)
    case 2:
        var identity = CheckpointWriter()
        identity.write(base.optimizer.checkpointIdentity(prefix: "fuzz=1"))
        file = sealed(identity.bytes + rest)
    default:
        var payload = Array(base.checkpoint[CheckpointFile.headerSize...])
        var i = 0
        while i + 2 < rest.count {
            let offset = (Int(rest[i]) << 8 | Int(rest[i + 1])) % payload.count
            payload[offset] = rest[i + 2]
            i += 3
        }
        file = sealed(payload)
    }
    // A fresh optimiser (copies would share the estimator's box) at the base state, whose own
    // checkpoint is the base checkpoint (checked once, at the first input).
    var optimizer = try! BilevelOptimizer(problem: base.optimizer.problem, estimator: base.optimizer.estimator,
                                          configuration: base.optimizer.configuration)
    try! optimizer.restore(checkpoint: base.checkpoint, identity: "fuzz=1")
    let before = base.checkpoint
    if !baseChecked {
        precondition(try! optimizer.checkpoint(identity: "fuzz=1") == before, "a restored base does not checkpoint to itself")
        baseChecked = true
    }
    do {
        try optimizer.restore(checkpoint: file, identity: "fuzz=1")
        _ = try optimizer.checkpoint(identity: "fuzz=1")
    } catch let error as CheckpointError {
        precondition(!error.description.contains("\n"), "an error of more than one line: \(error)")
        precondition((try? optimizer.checkpoint(identity: "fuzz=1")) == before, "a refused checkpoint changed the optimiser")
    } catch {
        preconditionFailure("an error of the wrong type: \(error)")
    }
    return 0
}
