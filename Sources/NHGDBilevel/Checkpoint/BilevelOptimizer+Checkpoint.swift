import NHGDLinearAlgebra
import NHGDSketches

/// Checkpoint and resume (Docs/reliability.md): the optimiser's whole state between two outer
/// iterations as bytes, and back.
///
/// A checkpoint holds x, y, the trace so far, the cumulative oracle counts and time, the
/// minibatch generator and the sampler's permutation and position, the outer update's state
/// (Adam's moments and step), the curvature-column plan's generator and block counter, and the
/// estimator's state (its sketch, warm starts). Restored into an optimiser built from the same
/// problem, estimator and configuration, the remaining iterations compute bit for bit what the
/// uninterrupted run computes: every double is stored as its bit pattern, and nothing that
/// influences a later iteration is left out (the inner loop's workspace is scratch, rewritten
/// before it is read; the sketch's capacitance cache is rebuilt from the same Gram matrix).
/// Only the records' `seconds` differ, being wall time: the restored records keep theirs and
/// the continued run adds its own.
///
/// The pipelined mode resumes exactly too: a checkpoint is taken between outer iterations, when
/// the sketch worker is idle, and pipelined and sequential runs compute the same iterates, so a
/// checkpoint of either continues in either.
extension BilevelOptimizer where Estimator: CheckpointableEstimator {
    /// What a checkpoint must have been written by, as `key=value` fields: the estimator's
    /// name and column request, the problem's sizes, and every configuration setting that
    /// changes the iterates (all but `pipelined`). A caller's own fields (the tool's command
    /// line) come first.
    public func checkpointIdentity(prefix: String = "") -> String {
        let c = configuration
        let fields = [
            "estimator=\(estimatorBox.estimator.name)",
            "columns=\(estimatorBox.estimator.columnRequest.map { "\($0)" } ?? "none")",
            "p=\(problem.innerDimension)", "q=\(problem.outerDimension)", "n=\(problem.trainingCount)",
            "outerIterations=\(c.outerIterations)", "innerSteps=\(c.innerSteps)", "batchSize=\(c.batchSize)",
            "innerLearningRate=\(c.innerLearningRate)", "outerLearningRate=\(c.outerLearningRate)",
            "outerUpdate=\(c.outerUpdate)", "blasThreads=\(c.blasThreads.map(String.init) ?? "unset")",
            "evaluateEvery=\(c.evaluateEvery)", "seed=\(c.seed)",
        ]
        return (prefix.isEmpty ? "" : prefix + ";") + fields.joined(separator: ";")
    }

    /// The state after the outer iterations run so far, in a ``CheckpointFile``.
    /// - Parameter identity: the caller's identity fields (see ``checkpointIdentity(prefix:)``).
    /// - Throws: ``CheckpointError/unsupported(_:)`` when the estimator's state cannot be
    ///   written.
    /// - Complexity: O(p + q + n + the estimator's state) bytes (the p×m sketch buffer dominates).
    public func checkpoint(identity: String = "") throws -> [UInt8] {
        let capacity = 8 * (x.count + y.count + 2 * outerState.firstMoment.count + sampler.permutation.count) + 4096
        return try CheckpointFile.encode(identity: checkpointIdentity(prefix: identity), reservingCapacity: capacity) { w in
            w.write(trace.count)
            w.write(x)
            w.write(y)
            w.write(seconds)
            oracleCalls.writeState(to: &w)
            for record in trace { record.writeState(to: &w) }
            rng.writeState(to: &w)
            w.write(outerState.step)
            w.write(outerState.firstMoment)
            w.write(outerState.secondMoment)
            w.write(sampler.permutation)
            w.write(sampler.cursor)
            w.write(columnPlan != nil)
            if let columnPlan {
                columnPlan.rng.writeState(to: &w)
                w.write(columnPlan.blocks)
            }
            try estimatorBox.estimator.writeEstimatorState(to: &w)
        }
    }

    /// Replaces the state with a checkpoint's, so that ``run(progress:)`` continues where the
    /// checkpointed run stopped. Everything is read and checked first; on any error the
    /// optimiser is unchanged.
    /// - Returns: the outer iterations the checkpoint had completed.
    /// - Throws: a ``CheckpointError``: not a checkpoint, another format version, truncated,
    ///   a checksum mismatch, another problem or configuration (naming the first field that
    ///   differs), or a malformed state.
    @discardableResult
    public mutating func restore(checkpoint bytes: [UInt8], identity: String = "") throws -> Int {
        var r = try CheckpointFile.open(bytes, expectedIdentity: checkpointIdentity(prefix: identity)).state
        let p = problem.innerDimension, q = problem.outerDimension, n = problem.trainingCount
        let done = try r.readInt(in: 0...configuration.outerIterations, "completed iterations")
        let newX = try r.readDoubles(count: q, "x"), newY = try r.readDoubles(count: p, "y")
        guard newX.firstNonFiniteIndex == nil, newY.firstNonFiniteIndex == nil else {
            throw CheckpointError.malformed("x or y holds a NaN or an infinity")
        }
        let newSeconds = try r.readDouble()
        let newCalls = try OracleCounts(reading: &r)
        var newTrace: [OuterIterationRecord] = []
        for i in 0..<done {
            let record = try OuterIterationRecord(reading: &r)
            guard record.iteration == i + 1 else { throw CheckpointError.malformed("trace record \(i + 1) says iteration \(record.iteration)") }
            newTrace.append(record)
        }
        var newRNG = rng
        try newRNG.restoreState(from: &r)
        var newOuter = outerState
        newOuter.step = try r.readInt(in: 0...Int.max, "outer step")
        newOuter.firstMoment = try r.readDoubles(count: q, "first moment")
        newOuter.secondMoment = try r.readDoubles(count: q, "second moment")
        var newSampler = sampler
        newSampler.permutation = try r.readInts(count: n, "minibatch permutation")
        var seen = [Bool](repeating: false, count: n)
        for i in newSampler.permutation {
            guard i >= 0, i < n, !seen[i] else { throw CheckpointError.malformed("the minibatch permutation is not one of 0..<\(n)") }
            seen[i] = true
        }
        newSampler.cursor = try r.readInt(in: 0...n, "minibatch cursor")
        var newPlan = columnPlan
        let hasPlan = try r.readBool()
        guard hasPlan == (columnPlan != nil) else {
            throw CheckpointError.configurationMismatch("curvature columns \(columnPlan != nil ? "requested" : "not requested") here, "
                                                            + "\(hasPlan ? "requested" : "not requested") in the checkpoint")
        }
        if hasPlan {
            try newPlan!.rng.restoreState(from: &r)
            newPlan!.blocks = try r.readInt(in: 0...Int.max, "column blocks")
        }
        var newEstimator = estimatorBox.estimator
        try newEstimator.restoreEstimatorState(from: &r, innerDimension: p)
        try r.expectEnd()

        x = newX
        y = newY
        seconds = newSeconds
        oracleCalls = newCalls
        trace = newTrace
        rng = newRNG
        outerState = newOuter
        sampler = newSampler
        columnPlan = newPlan
        estimatorBox.estimator = newEstimator
        return done
    }

    /// The estimator's state alone, as bytes (to compare two runs' estimators exactly).
    public func estimatorStateBytes() throws -> [UInt8] {
        var w = CheckpointWriter()
        try estimatorBox.estimator.writeEstimatorState(to: &w)
        return w.bytes
    }
}

extension OracleCounts {
    func writeState(to w: inout CheckpointWriter) {
        for v in [sampleGradients, hessianVectorProducts, crossProducts, outerGradients, sampleLosses] { w.write(v) }
    }

    init(reading r: inout CheckpointReader) throws {
        self.init(sampleGradients: try r.readInt(in: 0...Int.max, "oracle count"),
                  hessianVectorProducts: try r.readInt(in: 0...Int.max, "oracle count"),
                  crossProducts: try r.readInt(in: 0...Int.max, "oracle count"),
                  outerGradients: try r.readInt(in: 0...Int.max, "oracle count"),
                  sampleLosses: try r.readInt(in: 0...Int.max, "oracle count"))
    }
}

extension OuterIterationRecord {
    /// Every field, the metrics in the order of their names, doubles as bit patterns.
    public func writeState(to w: inout CheckpointWriter) {
        w.write(iteration)
        w.write(seconds)
        w.write(outerLoss)
        w.write(hypergradientNorm)
        w.write(errorBound != nil)
        w.write(errorBound ?? 0)
        oracleCalls.writeState(to: &w)
        let keys = metrics.keys.sorted()
        w.write(keys.count)
        for key in keys {
            w.write(key)
            w.write(metrics[key]!)
        }
    }

    init(reading r: inout CheckpointReader) throws {
        iteration = try r.readInt(in: 1...Int.max, "record iteration")
        seconds = try r.readDouble()
        outerLoss = try r.readDouble()
        hypergradientNorm = try r.readDouble()
        let hasBound = try r.readBool()
        let bound = try r.readDouble()
        errorBound = hasBound ? bound : nil
        oracleCalls = try OracleCounts(reading: &r)
        let count = try r.readCount(elementSize: 16, "metric count")
        var m: [String: Double] = [:]
        for _ in 0..<count {
            let key = try r.readString()
            m[key] = try r.readDouble()
        }
        metrics = m
    }
}
