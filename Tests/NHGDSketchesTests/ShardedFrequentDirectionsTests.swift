import Foundation
import NHGDLinearAlgebra
@testable import NHGDSketches
import NHGDTestSupport
import Testing

/// The parameter-sharded Frequent Directions sketch and its Woodbury solve
/// (`FrequentDirectionsSketch(shard:…)`, ALGORITHMS.md §8) on R = 2…4 in-process ranks
/// (`ThreadGroupCommunicator`): the same cases as the MPI checks of `Distributed/`
/// (`nhgd-distributed-check`, run by `make test` under mpirun), here without MPI.
@Suite("Sharded Frequent Directions")
struct ShardedFrequentDirectionsTests {
    /// Each rank ingests its rows of the same stream; its rows of `(F̂ + E + λI) v` and of
    /// `(F̂ + E + λI)⁻¹ v` (plain, refined, a block of 3) equal those of the one-process sketch
    /// to a relative 1e-10, and so do Δ and the certificate. Why that tolerance holds with room:
    /// the two differ only in the order of the sums over p (per rank, then across ranks), so
    /// the operators differ by O((p + 2ℓ)·ε·tr F) per shrink; with λ ≥ 10⁻³·tr F the solve's
    /// condition number is at most 1001 (measured: below 1e-13).
    @Test func equalsTheOneProcessSketchAndSolve() throws {
        try forAll("sharded FD + Woodbury = one process", cases: 40) { c in
            let ranks = c.int(in: 2...4)
            let p = c.bool() ? ranks + c.size(0...3) : max(ranks, c.size(2...60))
            let rank = c.size(1...8)
            let compensation: DiagonalCompensation = [.none, .scalar, .residualDiagonal][c.int(in: 0...2)]
            let interval = [1, 2, 8][c.int(in: 0...2)]
            let events = c.gradientStream(dimension: p, blocks: c.size(1...16), kind: StreamKind.allCases[c.int(in: 0...2)],
                                          noise: 1e-2)
            var whole = try FrequentDirectionsSketch(dimension: p, rank: rank, compensation: compensation,
                                                     shrinkMethod: .gramTrick(reorthogonalizationInterval: interval))
            var traceF = 0.0
            for e in events {
                try whole.ingest(e.gradients, weights: e.weights, forgetting: e.forgetting)
                let mass = (0..<e.gradients.columns).reduce(0.0) { $0 + (e.weights?[$1] ?? 1) * pow(BLAS.columnNorm(e.gradients, $1), 2) }
                traceF = (e.forgetting == 1 ? 0 : (1 - e.forgetting) * traceF) + e.forgetting * mass / Double(e.gradients.columns)
            }
            let scale = max(traceF, 1e-300)
            let lambda = scale * c.logUniform(in: 1e-3...1e-1)
            let perEntry = c.bool()
            let extra = (0..<p).map { _ in scale * 1e-2 * c.double(in: 0.5...2) }
            let v = (0..<p).map { _ in c.double(in: -1...1) }
            let vBlock = Matrix.gaussian(rows: p, columns: 3, using: &c.rng)
            c.note("R=\(ranks) p=\(p) ℓ=\(rank) \(compensation) interval=\(interval) \(perEntry ? "per-entry" : "uniform") E, shrinks=\(whole.shrinkCount)")
            let extraWhole = perEntry ? Diagonal(entries: extra) : .uniform(extra[0], dimension: p)
            let w = try whole.inverse(adding: extraWhole, damping: lambda)
            var yw = [Double](repeating: 0, count: p)
            try w.apply(v, into: &yw)
            let reference = [yw, try w.solve(v), try w.solve(v, refinementSteps: 1), try w.solve(block: vBlock).storage]
            let wholeBound = whole.spectralErrorBound

            // Each rank: its sums of squared differences and of squared references, per quantity.
            let frozen = events
            let results = ThreadGroupCommunicator.run(ranks: ranks) { communicator in
                let shard = try RowShard(dimension: p, communicator: communicator)
                let rows = shard.rows
                var part = try FrequentDirectionsSketch(shard: shard, rank: rank, compensation: compensation,
                                                        shrinkMethod: .gramTrick(reorthogonalizationInterval: interval))
                for e in frozen { try part.ingest(Self.rows(e.gradients, rows), weights: e.weights, forgetting: e.forgetting) }
                let extraPart = perEntry ? Diagonal(entries: Array(extra[rows])) : .uniform(extra[0], dimension: rows.count)
                let s = try part.inverse(adding: extraPart, damping: lambda)
                var ys = [Double](repeating: 0, count: rows.count)
                try s.apply(Array(v[rows]), into: &ys)
                let local = [ys, try s.solve(Array(v[rows])), try s.solve(Array(v[rows]), refinementSteps: 1),
                             try s.solve(block: Self.rows(vBlock, rows)).storage]
                var sums: [Double] = []
                for (q, x) in local.enumerated() {
                    let ref = q == 3 ? Self.rows(try Matrix(rows: p, columns: 3, storage: reference[3]), rows).storage
                                     : Array(reference[q][rows])
                    sums.append(zip(x, ref).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) })
                    sums.append(ref.reduce(0) { $0 + $1 * $1 })
                }
                return (sums, part.spectralErrorBound)
            }
            var total = [Double](repeating: 0, count: 8)
            for result in results {
                let (sums, bound) = try result.get()
                for i in 0..<8 { total[i] += sums[i] }
                try c.expect(abs(bound - wholeBound) <= 1e-10 * scale, "certificate \(bound) vs one process \(wholeBound)")
            }
            for (q, name) in ["apply", "solve", "refined solve", "block solve"].enumerated() {
                let error = (total[2 * q] / max(total[2 * q + 1], 1e-300)).squareRoot()
                try c.expect(error <= 1e-10, "\(name): relative difference \(error) from the one-process sketch")
            }
        }
    }

    /// A NaN in one rank's rows: that rank throws `nonFinite`, every other rank `communication`,
    /// and every rank's sketch is unchanged; a factorisation that fails on rank 0 fails on all.
    @Test func badInputOnOneRankIsRefusedOnEvery() throws {
        let ranks = 3, p = 11
        var rng = Xoshiro256StarStar(seed: 5)
        let good = Matrix.gaussian(rows: p, columns: 6, using: &rng)
        var bad = Matrix.gaussian(rows: p, columns: 2, using: &rng)
        bad[p - 1, 1] = .nan
        let badBlock = bad
        let outcomes = ThreadGroupCommunicator.run(ranks: ranks) { communicator in
            let shard = try RowShard(dimension: p, communicator: communicator)
            var sketch = try FrequentDirectionsSketch(shard: shard, rank: 2, compensation: .residualDiagonal)
            try sketch.ingest(Self.rows(good, shard.rows), columns: 0..<6, forgetting: 0.5)
            let before = sketch
            var ingestError: LinearAlgebraError?
            do { try sketch.ingest(Self.rows(badBlock, shard.rows), columns: 0..<2, forgetting: 0.5) } catch let e as LinearAlgebraError { ingestError = e }
            var indefinite = Matrix.identity(2)
            indefinite[1, 1] = -1
            var choleskyError: LinearAlgebraError?
            do { _ = try CholeskyFactorization(indefinite, factoredOnRootOf: communicator) } catch let e as LinearAlgebraError { choleskyError = e }
            return (sketch == before, ingestError, choleskyError)
        }
        for (r, outcome) in outcomes.enumerated() {
            let (unchanged, ingestError, choleskyError) = try outcome.get()
            #expect(unchanged, "rank \(r): the refused block changed the sketch")
            if r == ranks - 1 {
                guard case .nonFinite = ingestError else { Issue.record("rank \(r): \(String(describing: ingestError))"); continue }
            } else {
                guard case .communication = ingestError else { Issue.record("rank \(r): \(String(describing: ingestError))"); continue }
            }
            if r == 0 {
                guard case .notPositiveDefinite = choleskyError else { Issue.record("rank 0: \(String(describing: choleskyError))"); continue }
            } else {
                guard case .communication = choleskyError else { Issue.record("rank \(r): \(String(describing: choleskyError))"); continue }
            }
        }
    }

    /// Rows of a block, for a rank.
    static func rows(_ m: Matrix, _ rows: Range<Int>) -> Matrix {
        var out = Matrix(rows: rows.count, columns: m.columns)
        for j in 0..<m.columns { for (n, i) in rows.enumerated() { out[n, j] = m[i, j] } }
        return out
    }

    /// The partition: consecutive blocks covering 0..<p, sizes differing by at most one.
    @Test func rowPartitionCoversEveryRowOnce() {
        for ranks in 1...7 {
            for p in ranks...(ranks + 20) {
                let parts = (0..<ranks).map { RowShard.rows(of: $0, dimension: p, ranks: ranks) }
                #expect(parts.first!.lowerBound == 0 && parts.last!.upperBound == p)
                #expect(zip(parts, parts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect(parts.map(\.count).max()! - parts.map(\.count).min()! <= 1)
            }
        }
    }
}

/// `Communicator.requireAgreement`: every rank passes or every rank throws, naming the ranks.
@Suite("Communicator agreement")
struct CommunicatorAgreementTests {
    @Test func everyRankThrowsWhenOneDisagrees() throws {
        let outcomes = ThreadGroupCommunicator.run(ranks: 3) { communicator in
            try communicator.requireAgreement([1, 2], about: "the same values")
            var failed: [String] = []
            for (what, values) in [("a value", communicator.rank == 2 ? [1.0, 3] : [1, 2]),
                                   ("a count", communicator.rank == 1 ? [1.0] : [1, 2])] {
                do { try communicator.requireAgreement(values, about: what) } catch { failed.append("\(error)") }
            }
            return failed
        }
        for (r, outcome) in outcomes.enumerated() {
            let failed = try outcome.get()
            #expect(failed.count == 2, "rank \(r): \(failed)")
            #expect(failed.first?.contains("ranks [2] differ") == true, "rank \(r): \(failed)")
            #expect(failed.last?.contains("different numbers of values") == true, "rank \(r): \(failed)")
        }
    }
}

/// `RowShard.reduceScatter` and `RowShard.allgather` on in-process ranks.
@Suite("Row shard collectives")
struct RowShardCollectiveTests {
    @Test func reduceScatterGivesEachRankItsRowsOfTheSum() throws {
        for ranks in 1...4 {
            let p = 3 * ranks + 2, s = 3
            var rng = Xoshiro256StarStar(seed: UInt64(ranks))
            let blocks = (0..<ranks).map { _ in Matrix.gaussian(rows: p, columns: s, using: &rng) }
            var sum = Matrix(rows: p, columns: s)
            for b in blocks { for i in 0..<sum.storage.count { sum.storage[i] += b.storage[i] } }
            let total = sum
            let outcomes = ThreadGroupCommunicator.run(ranks: ranks) { communicator in
                let shard = try RowShard(dimension: p, communicator: communicator)
                var mine = Matrix(rows: shard.localDimension, columns: s)
                try shard.reduceScatter(blocks[communicator.rank], into: &mine)
                let whole = try shard.allgather(Array(total.column(0)[shard.rows]))
                return (mine, ShardedFrequentDirectionsTests.rows(total, shard.rows), whole)
            }
            for outcome in outcomes {
                let (mine, expected, whole) = try outcome.get()
                #expect(maxAbsDifference(mine, expected) <= 1e-14 * Double(ranks))
                #expect(whole == total.column(0))
            }
        }
    }
}
