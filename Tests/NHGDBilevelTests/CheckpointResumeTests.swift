import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDSketches
@testable import NHGDBilevel
import NHGDExperiments

/// Checkpoint and resume (Docs/reliability.md): a run stopped after any outer iteration k and
/// continued from its checkpoint ends bit for bit where the uninterrupted run ends.
@Suite struct CheckpointResumeTests {
    typealias NHGD = NaturalHypergradient<RidgeRegression, FrequentDirectionsSketch>

    static func problem(d: Int = 8) throws -> RidgeRegression {
        var rng = Xoshiro256StarStar(seed: 11)
        return try RidgeRegression.synthetic(n: 120, m: 40, d: d, noise: 1, using: &rng)
    }

    static func configuration(pipelined: Bool) -> BilevelOptimizerConfiguration {
        var c = OptimizerTests.configuration(pipelined: pipelined, seed: 4)
        c.outerIterations = 4
        c.innerSteps = 6
        return c
    }

    /// A rank-3 sketch of p = 8 shrinks many times per outer iteration; Gaussian columns every
    /// other step draw from the column plan's generator.
    static func natural() throws -> NHGD {
        try NHGD(sketch: FrequentDirectionsSketch(dimension: 8, rank: 3, compensation: .scalar), damping: 1e-2,
                 columns: CurvatureColumnRequest(compression: .gaussian(columns: 3), interval: 2, seed: 9))
    }

    /// Everything a run computes, doubles as bit patterns, the records' wall time left out.
    static func fingerprint<E: CheckpointableEstimator>(_ o: BilevelOptimizer<E>) throws -> [UInt8] {
        var w = CheckpointWriter()
        w.write(o.x)
        w.write(o.y)
        o.oracleCalls.writeState(to: &w)
        for var record in o.trace {
            record.seconds = 0
            record.writeState(to: &w)
        }
        return w.bytes + (try o.estimatorStateBytes())
    }

    /// Runs to the end; then, for every k = 0 … N − 1, runs k iterations, checkpoints, restores
    /// into a fresh optimiser (the other mode when `switchMode`) and runs the rest.
    static func expectExactResume<E: CheckpointableEstimator>(
        _ make: () throws -> E, pipelined: Bool, switchMode: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
    ) throws where E.Problem == RidgeRegression {
        let problem = try Self.problem()
        let c = configuration(pipelined: pipelined)
        var whole = try BilevelOptimizer(problem: problem, estimator: make(), configuration: c)
        try whole.run()
        let expected = try fingerprint(whole)
        for k in 0..<c.outerIterations {
            var first = try BilevelOptimizer(problem: problem, estimator: make(), configuration: c)
            for _ in 0..<k { try first.step() }
            let bytes = try first.checkpoint(identity: "test=1")
            var resumedConfiguration = c
            if switchMode { resumedConfiguration.pipelined.toggle() }
            var resumed = try BilevelOptimizer(problem: problem, estimator: make(), configuration: resumedConfiguration)
            #expect(try resumed.restore(checkpoint: bytes, identity: "test=1") == k, sourceLocation: sourceLocation)
            try resumed.run()
            #expect(try fingerprint(resumed) == expected, "\(whole.estimator.name) resumed after iteration \(k)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func naturalHypergradientResumesBitForBitAfterEveryIteration() throws {
        try Self.expectExactResume(Self.natural, pipelined: false)
    }

    /// The pipelined mode (the sketch on a second worker) resumes exactly too, and a checkpoint
    /// of one mode continues in the other.
    @Test func pipelinedRunsResumeBitForBitInEitherMode() throws {
        try Self.expectExactResume(Self.natural, pipelined: true)
        try Self.expectExactResume(Self.natural, pipelined: true, switchMode: true)
    }

    /// Every built-in estimator with state (warm starts, SOBA's v, qNBO's pairs, nhgd-pcg's
    /// sketch and warm start) and without.
    @Test func everyEstimatorResumesBitForBit() throws {
        typealias P = RidgeRegression
        let step = 0.01
        try Self.expectExactResume({ try PreconditionedNaturalHypergradient(Self.natural(), steps: 2) }, pipelined: true)
        try Self.expectExactResume({ try ConjugateGradientHypergradient<P>(iterations: 3, batchSize: 16) }, pipelined: false)
        try Self.expectExactResume({ try AmIGOHypergradient<P>(steps: 3, stepSize: step, batchSize: 16) }, pipelined: false)
        try Self.expectExactResume({ try NeumannHypergradient<P>(terms: 3, stepSize: step, batchSize: 16) }, pipelined: false)
        try Self.expectExactResume({ try SOBAHypergradient<P>(stepSize: step, batchSize: 16) }, pipelined: false)
        try Self.expectExactResume({ try QuasiNewtonHypergradient<P>(quasiNewtonSteps: 3, memory: 2, warmMemory: true) },
                                   pipelined: false)
        try Self.expectExactResume({ try CurvatureAwareHypergradient<P>(iterations: 3, batchSize: 16) }, pipelined: false)
        try Self.expectExactResume({ try NystromHypergradient<P>(rank: 3, batchSize: 16) }, pipelined: false)
        try Self.expectExactResume({ try ExactHypergradient<P>() }, pipelined: false)
    }

    /// Recomputes the header's checksum after an edit of the payload.
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        var w = CheckpointWriter()
        w.write(FNV1a64.hash(b[CheckpointFile.headerSize...]))
        b.replaceSubrange(24..<32, with: w.bytes)
        return b
    }

    /// A corrupt, truncated, wrong-version, foreign or wrong-configuration checkpoint is a
    /// ``CheckpointError`` and leaves the optimiser exactly as it was.
    @Test func badCheckpointsAreTypedErrorsAndChangeNothing() throws {
        let problem = try Self.problem()
        let c = Self.configuration(pipelined: false)
        var source = try BilevelOptimizer(problem: problem, estimator: Self.natural(), configuration: c)
        try source.step()
        try source.step()
        let good = try source.checkpoint()
        var target = try BilevelOptimizer(problem: problem, estimator: Self.natural(), configuration: c)
        try target.step()
        let before = try target.checkpoint()

        func expectRefused(_ bytes: [UInt8], identity: String = "", _ check: (CheckpointError) -> Bool, _ what: String) {
            do {
                try target.restore(checkpoint: bytes, identity: identity)
                Issue.record("\(what) was accepted")
            } catch let error as CheckpointError {
                #expect(check(error), "\(what): \(error)")
                #expect(!error.description.contains("\n"))
            } catch {
                Issue.record("\(what): \(error)")
            }
            #expect((try? target.checkpoint()) == before, "\(what) changed the optimiser")
        }
        var flipped = good
        flipped[flipped.count / 2] ^= 0x10
        expectRefused(flipped, { if case .checksumMismatch = $0 { true } else { false } }, "a flipped bit")
        for cut in [0, 5, 20, CheckpointFile.headerSize, good.count / 2, good.count - 1] {
            expectRefused(Array(good[0..<cut]), { if case .truncated = $0 { true } else { false } }, "cut at \(cut)")
        }
        var version = good
        version[8] = 7
        expectRefused(version, { $0 == .unsupportedVersion(found: 7, supported: 1) }, "version 7")
        expectRefused(Array("x,y\n1,2\n".utf8), { $0 == .notACheckpoint }, "a CSV file")
        expectRefused(good, identity: "task=clean", { if case .configurationMismatch = $0 { true } else { false } },
                      "another caller identity")
        var otherSeed = c
        otherSeed.seed = 99
        let foreign = try BilevelOptimizer(problem: problem, estimator: Self.natural(), configuration: otherSeed).checkpoint()
        expectRefused(foreign, { $0.description.contains("seed is '4' here but '99'") }, "another seed")
        let otherProblem = try BilevelOptimizer(
            problem: Self.problem(d: 6), estimator: NHGD(sketch: FrequentDirectionsSketch(dimension: 6, rank: 3, compensation: .scalar),
                                                         damping: 1e-2, columns: Self.natural().columns),
            configuration: c).checkpoint()
        expectRefused(otherProblem, { if case .configurationMismatch = $0 { true } else { false } }, "another problem")
        // An identity with a newline (found by the checkpoint-reader fuzz target) is still a
        // one-line refusal.
        let newline = CheckpointFile.encode(identity: "columns=a\nb;seed=4") { _ in }
        expectRefused(newline, { if case .configurationMismatch = $0 { true } else { false } }, "an identity with a newline")
        // Resealed edits of the payload: a state that cannot be valid, with a valid checksum.
        var appended = good + [0]
        appended = Self.resealed(Array(appended))
        var lengthFixed = appended
        var w = CheckpointWriter()
        w.write(UInt64(appended.count - CheckpointFile.headerSize))
        lengthFixed.replaceSubrange(16..<24, with: w.bytes)
        expectRefused(lengthFixed, { if case .malformed = $0 { true } else { false } }, "a trailing byte")

        // Random single-byte edits, resealed: a typed error or (rarely) a valid state, never a trap.
        var rng = Xoshiro256StarStar(seed: 1)
        var refused = 0
        for _ in 0..<300 {
            var edited = good
            let i = CheckpointFile.headerSize + Int(rng.next() % UInt64(good.count - CheckpointFile.headerSize))
            edited[i] = UInt8(truncatingIfNeeded: rng.next())
            var probe = try BilevelOptimizer(problem: problem, estimator: Self.natural(), configuration: c)
            do { try probe.restore(checkpoint: Self.resealed(edited)) } catch is CheckpointError { refused += 1 }
        }
        #expect(refused > 0)
    }
}
