import NHGDLinearAlgebra
import NHGDSketches
import NHGDTestSupport
import Testing

@Suite("Window, diagonal and dense Fisher")
struct ExactSketchTests {
    @Test func windowEqualsExactWindowFisher() throws {
        try forAll("WindowSketch = exact Fisher of the last k gradients", cases: 50) { c in
            let p = c.size(1...60), k = c.size(1...20)
            let events = c.gradientStream(dimension: p, blocks: c.size(1...25), kind: StreamKind.allCases[c.int(in: 0...2)])
            c.note("p=\(p) k=\(k) blocks=\(events.count)")
            var window = try WindowSketch(dimension: p, capacity: k)
            var reference = DecayedStreamReference(dimension: p)
            for e in events {
                try window.ingest(e.gradients, weights: e.weights, forgetting: e.forgetting)
                reference.ingest(e)
            }
            let exact = reference.fisher(lastColumns: k)
            // Each entry is the same ≤ k products with decays applied in a different order:
            // relative error ≤ γ_{k + blocks} per entry, measured against ‖F_W‖ (Frobenius).
            let tolerance = 8 * Double(k + events.count) * Double.ulpOfOne
            let error = relativeError(try materialized(window), exact)
            try c.expect(error <= tolerance, "window vs exact: relative error \(error) > \(tolerance)")
            let evicted = reference.evictedMass(window: k)
            try c.expect(abs(window.spectralErrorBound - evicted) <= tolerance * max(evicted, reference.frobeniusSquared),
                         "evicted mass \(window.spectralErrorBound) vs \(evicted)")
            // The bound holds against the full decayed Fisher.
            let slack = tolerance * reference.frobeniusSquared
            let full = try spectralNorm(difference(reference.fisher(), exact))
            try c.expect(full <= window.spectralErrorBound + slack, "‖F − F_W‖₂ = \(full) > bound \(window.spectralErrorBound)")
        }
    }

    @Test func diagonalAndDenseMatchTheReference() throws {
        try forAll("DiagonalFisher = diag(F), DenseFisher = F", cases: 50) { c in
            let p = c.size(1...60)
            let events = c.gradientStream(dimension: p, blocks: c.size(1...20), kind: StreamKind.allCases[c.int(in: 0...2)])
            c.note("p=\(p) blocks=\(events.count)")
            var diagonal = try DiagonalFisher(dimension: p)
            var dense = try DenseFisher(dimension: p)
            var reference = DecayedStreamReference(dimension: p)
            for e in events {
                try diagonal.ingest(e.gradients, weights: e.weights, forgetting: e.forgetting)
                try dense.ingest(e.gradients, weights: e.weights, forgetting: e.forgetting)
                reference.ingest(e)
            }
            let f = reference.fisher()
            let n = reference.gradients.count
            // Sums of the same N products, decays applied in another order: γ_{N + blocks}.
            let tolerance = 8 * Double(n + events.count) * Double.ulpOfOne
            let denseError = relativeError(dense.matrix, f)
            try c.expect(denseError <= tolerance, "dense vs reference: \(denseError) > \(tolerance)")
            for j in 0..<p {
                try c.expect(abs(diagonal.diagonal[j] - f[j, j]) <= tolerance * f[j, j],
                             "diagonal[\(j)] = \(diagonal.diagonal[j]) vs \(f[j, j])")
            }
            // The trace bounds ‖F − diag F‖₂.
            let offDiagonal = try spectralNorm(difference(f, Matrix.diagonal(diagonal.diagonal)))
            try c.expect(offDiagonal <= diagonal.spectralErrorBound * (1 + tolerance),
                         "‖F − diag F‖₂ = \(offDiagonal) > trace bound \(diagonal.spectralErrorBound)")
            // DenseFisher's factored form reproduces F: dropped eigenvalues are rounding,
            // |λ| ≲ p·u·‖F‖₂, and the product rounds at γ_p.
            let factored = try materialized(dense)
            let factorError = try spectralNorm(difference(factored, f))
            let fNorm = try spectralNorm(f)
            try c.expect(factorError <= 16 * Double(p + n) * Double.ulpOfOne * fNorm,
                         "dense factored form error \(factorError) vs ‖F‖ = \(fNorm)")
        }
    }

    @Test func denseRefusesLargeDimensionsWithTheMemoryNeeded() throws {
        let p = 20_000
        #expect(throws: LinearAlgebraError.tooLargeToMaterialize(dimension: p, bytesNeeded: p * p * 8, bytesAllowed: 512 << 20)) {
            _ = try DenseFisher(dimension: p)
        }
        let message = LinearAlgebraError.tooLargeToMaterialize(dimension: p, bytesNeeded: p * p * 8, bytesAllowed: 512 << 20).description
        #expect(message.contains(formatBytes(p * p * 8)) && message.contains("20000×20000"),
                "message should state the memory needed: \(message)")
    }
}
