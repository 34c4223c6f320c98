import NHGDLinearAlgebra
import NHGDSketches

// What each built-in estimator carries from one estimate to the next, for checkpoints
// (``CheckpointableEstimator``). Estimators without state write nothing.

extension NaturalHypergradient: CheckpointableEstimator where Sketch: CheckpointableState {
    /// The sketch.
    public func writeEstimatorState(to writer: inout CheckpointWriter) throws { try sketch.writeState(to: &writer) }

    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) throws {
        try sketch.restoreState(from: &reader)
    }
}

extension PreconditionedNaturalHypergradient: CheckpointableEstimator where Sketch: CheckpointableState {
    /// The sketch, then the previous solution (CG's warm start).
    public func writeEstimatorState(to writer: inout CheckpointWriter) throws {
        try natural.writeEstimatorState(to: &writer)
        writer.write(previousSolution)
    }

    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) throws {
        var restored = natural
        try restored.restoreEstimatorState(from: &reader, innerDimension: p)
        let previous = try readOptionalVector(&reader, p, "nhgd-pcg warm start")
        natural = restored
        previousSolution = previous
    }
}

extension ConjugateGradientHypergradient: CheckpointableEstimator {
    /// The warm start.
    public func writeEstimatorState(to writer: inout CheckpointWriter) { writer.write(previousSolution) }

    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) throws {
        previousSolution = try readOptionalVector(&reader, p, "cg warm start")
    }
}

extension AmIGOHypergradient: CheckpointableEstimator {
    /// The warm start.
    public func writeEstimatorState(to writer: inout CheckpointWriter) { writer.write(previousSolution) }

    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) throws {
        previousSolution = try readOptionalVector(&reader, p, "amigo warm start")
    }
}

extension SOBAHypergradient: CheckpointableEstimator {
    /// v and the step counter t of the schedule.
    public func writeEstimatorState(to writer: inout CheckpointWriter) {
        writer.write(direction)
        writer.write(stepCount)
    }

    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) throws {
        let v = try readOptionalVector(&reader, p, "soba direction")
        let t = try reader.readInt(in: 0...Int.max, "soba step count")
        direction = v
        stepCount = t
    }
}

extension CurvatureAwareHypergradient: CheckpointableEstimator {
    /// The last Newton-corrected inner iterate (reported, not reused).
    public func writeEstimatorState(to writer: inout CheckpointWriter) { writer.write(correctedInner) }

    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) throws {
        correctedInner = try readOptionalVector(&reader, p, "nbo corrected inner iterate")
    }
}

extension QuasiNewtonHypergradient: CheckpointableEstimator {
    /// The L-BFGS pairs (when kept) and the last inner iterate.
    public func writeEstimatorState(to writer: inout CheckpointWriter) {
        writer.write(inverseHessian != nil)
        if let inverseHessian { inverseHessian.writeState(to: &writer) }
        writer.write(lastInnerIterate)
    }

    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) throws {
        var memoryState: LBFGSInverseHessian?
        if try reader.readBool() {
            var state = try LBFGSInverseHessian(dimension: p, memory: memory, curvatureThreshold: curvatureThreshold)
            try state.restoreState(from: &reader)
            memoryState = state
        }
        let last = try readOptionalVector(&reader, p, "qnbo last inner iterate")
        inverseHessian = memoryState
        lastInnerIterate = last
    }
}

extension LBFGSInverseHessian: CheckpointableState {
    /// The pairs in slot order, the ring's start and the counters.
    public func writeState(to writer: inout CheckpointWriter) {
        writer.write(pairCount)
        writer.write(oldest)
        writer.write(skippedPairCount)
        for i in 0..<pairCount {
            writer.write(steps[i])
            writer.write(gradientChanges[i])
        }
        writer.write(inverseCurvatures)
    }

    public mutating func restoreState(from reader: inout CheckpointReader) throws {
        let count = try reader.readInt(in: 0...memory, "L-BFGS pair count")
        let start = try reader.readInt(in: 0...max(0, memory - 1), "L-BFGS oldest slot")
        guard count == memory || start == 0 else { throw CheckpointError.malformed("L-BFGS ring starts at \(start) before it is full") }
        let skipped = try reader.readInt(in: 0...Int.max, "L-BFGS skipped pairs")
        var s: [[Double]] = [], y: [[Double]] = []
        for _ in 0..<count {
            s.append(try reader.readDoubles(count: dimension, "L-BFGS step"))
            y.append(try reader.readDoubles(count: dimension, "L-BFGS gradient change"))
        }
        let rho = try reader.readDoubles(count: count, "L-BFGS inverse curvatures")
        guard (s + y + [rho]).allSatisfy({ $0.firstNonFiniteIndex == nil }) else {
            throw CheckpointError.malformed("L-BFGS pairs hold a NaN or an infinity")
        }
        steps = s
        gradientChanges = y
        inverseCurvatures = rho
        oldest = start
        pairCount = count
        skippedPairCount = skipped
    }
}

extension NeumannHypergradient: CheckpointableEstimator {
    /// Nothing: every estimate starts afresh.
    public func writeEstimatorState(to writer: inout CheckpointWriter) {}
    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) {}
}

extension ExactHypergradient: CheckpointableEstimator {
    /// Nothing: every estimate starts afresh.
    public func writeEstimatorState(to writer: inout CheckpointWriter) {}
    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) {}
}

extension NystromHypergradient: CheckpointableEstimator {
    /// Nothing when each estimate builds its own approximation (`refreshInterval` 1, the
    /// default and the tool's setting). An approximation kept for later estimates is not
    /// written: checkpointing then is refused with ``CheckpointError/unsupported(_:)``.
    public func writeEstimatorState(to writer: inout CheckpointWriter) throws {
        if let approximation, approximation.uses < refreshInterval {
            throw CheckpointError.unsupported("nystrom with refreshInterval \(refreshInterval) keeps its approximation between estimates")
        }
    }
    public mutating func restoreEstimatorState(from reader: inout CheckpointReader, innerDimension p: Int) {
        approximation = nil
    }
}
