import Foundation
import NHGDLinearAlgebra
@testable import NHGDSketches
import NHGDTestSupport
import Testing

/// `FrequentDirectionsSketch.inverse(adding:damping:)`: the solve that reads the buffer in place
/// and keeps its capacitance (ALGORITHMS.md §8b), in every mode: each compensation, a uniform or
/// a per-coordinate extra diagonal, mid-buffer and after shrinks, with forgetting.
@Suite("Frequent Directions in-place solve")
struct FrequentDirectionsSolveTests {
    /// A sketch fed a random stream, the stream's exact decayed Fisher, an extra diagonal of the
    /// Fisher's scale (uniform or not) and a damping.
    private func fedSketch(_ c: inout PropertyCase)
        throws -> (FrequentDirectionsSketch, fisher: Matrix, extra: Diagonal, damping: Double) {
        let p = c.size(1...50), rank = c.size(1...8)
        let compensation: DiagonalCompensation = [.none, .scalar, .residualDiagonal][c.int(in: 0...2)]
        let events = c.gradientStream(dimension: p, blocks: c.size(1...12), kind: StreamKind.allCases[c.int(in: 0...2)])
        var sketch = try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: compensation)
        var reference = DecayedStreamReference(dimension: p)
        for e in events {
            try sketch.ingest(e.gradients, weights: e.weights, forgetting: e.forgetting)
            reference.ingest(e)
        }
        let scale = max(reference.frobeniusSquared / Double(p), 1e-12)
        let extra = c.bool() ? Diagonal.uniform(scale * c.logUniform(in: 1e-3...1), dimension: p)
            : Diagonal(entries: (0..<p).map { _ in scale * c.logUniform(in: 1e-3...1) })
        let damping = c.bool() ? 0 : scale * c.logUniform(in: 1e-4...1e-1)
        c.note("p=\(p) ℓ=\(rank) \(compensation) \(extra.uniformValue == nil ? "per-coordinate" : "uniform") λ=\(damping) shrinks=\(sketch.shrinkCount) m=\(sketch.filledColumns)")
        return (sketch, reference.fisher(), extra, damping)
    }

    /// The in-place solve equals a dense Cholesky solve of the sketch's own materialised
    /// estimate `F̂ + E + λI` (from the copy `lowRankPlusDiagonal`), to the forward error of
    /// two stable solves, `16·(p + m)·ε·κ` (as the Woodbury contract test; one refinement step
    /// makes the Woodbury solve backward stable whatever its capacitance's conditioning).
    @Test func equalsTheDenseSolveOfTheEstimate() throws {
        try forAll("in-place FD solve = dense solve of F̂ + E + λI", cases: 60) { c in
            var (sketch, _, extra, damping) = try fedSketch(&c)
            let p = sketch.dimension
            let v = c.vector(count: p)
            let x = try sketch.inverse(adding: extra, damping: damping).solve(v, refinementSteps: 1)
            var a = try sketch.lowRankPlusDiagonal(adding: extra.entries).materialized()
            for i in 0..<p { a[i, i] += damping }
            let reference = try denseSolve(a, v)
            let kappa = try conditionNumber(a)
            let tolerance = 16 * Double(p + sketch.filledColumns) * Double.ulpOfOne * kappa
            try c.expect(relativeError(x, reference) <= tolerance,
                         "relative error \(relativeError(x, reference)) > \(tolerance) (κ = \(kappa))")
        }
    }

    /// The certificate is a true bound in every mode: against the solve with the exact decayed
    /// Fisher F of the stream, `‖Â⁻¹v − A⁻¹v‖/‖A⁻¹v‖ ≤ ε_sketch/(λ + min E)` (ALGORITHMS.md §5),
    /// up to the rounding of the two solves (κ(A)·16(p + m)ε).
    @Test func certificateBoundsTheErrorAgainstTheExactFisher() throws {
        try forAll("FD certificate vs the exact Fisher", cases: 60) { c in
            var (sketch, fisher, extra, damping) = try fedSketch(&c)
            let p = sketch.dimension
            let v = c.vector(count: p)
            let x = try sketch.inverse(adding: extra, damping: damping).solve(v, refinementSteps: 1)
            var a = fisher
            for i in 0..<p { a[i, i] += extra[i] + damping }
            let exact = try denseSolve(a, v)
            let bound = sketch.spectralErrorBound / (damping + extra.minimum)
            let rounding = 16 * Double(p + sketch.filledColumns) * Double.ulpOfOne * (try conditionNumber(a))
            let error = relativeError(x, exact)
            try c.expect(error <= bound * (1 + 1e-10) + rounding, "error \(error) above the certificate \(bound)")
        }
    }

    /// The capacitance is reused while neither the sketch nor the diagonal changed, and rebuilt
    /// (to the same value a fresh sketch would give) when either did. A refused call changes
    /// nothing.
    @Test func capacitanceIsReusedUntilTheSketchOrTheDiagonalChanges() throws {
        try forAll("FD capacitance cache", cases: 20) { c in
            var (sketch, _, extra, damping) = try fedSketch(&c)
            let p = sketch.dimension
            let first = try sketch.inverse(adding: extra, damping: damping)
            let again = try sketch.inverse(adding: extra, damping: damping)
            try c.expect(first == again, "a second call without changes differs")
            let other = try sketch.inverse(adding: extra.adding(1), damping: damping)
            try c.expect(other.capacitance != first.capacitance || sketch.filledColumns == 0,
                         "another diagonal reused the old capacitance")
            var fresh = sketch
            fresh.capacitanceCache = nil
            try c.expect(try fresh.inverse(adding: extra.adding(1), damping: damping) == other,
                         "the cached factor differs from a fresh one")
            let before = sketch
            try c.expectThrows("a diagonal of the wrong length", matching: { $0 is LinearAlgebraError }) {
                try sketch.inverse(adding: .uniform(1, dimension: p + 1), damping: 0)
            }
            try c.expectThrows("negative damping", matching: { $0 is LinearAlgebraError }) {
                try sketch.inverse(adding: extra, damping: -1)
            }
            try c.expect(sketch == before, "a refused call changed the sketch")
            // After an ingest the factor is rebuilt for the new state.
            try sketch.ingest(c.gaussianMatrix(rows: p, columns: 2), weights: nil, forgetting: 0.5)
            let after = try sketch.inverse(adding: extra, damping: damping)
            var rebuilt = sketch
            rebuilt.capacitanceCache = nil
            try c.expect(try rebuilt.inverse(adding: extra, damping: damping) == after, "stale capacitance after an ingest")
        }
    }
}
