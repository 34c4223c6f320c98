import Foundation
import NHGDLinearAlgebra
import NHGDSketches

/// Bad input on one rank, or a failure where rank 0 computes for all, must make *every* rank
/// throw before anything changes — never leave the others waiting in a collective.
/// - Returns: the number of failed expectations on this rank.
func checkErrorsAreAgreed(_ communicator: any Communicator, report: (String) -> Void) throws -> Int {
    var failures = 0
    let ranks = communicator.size, last = ranks - 1
    func expect(_ ok: Bool, _ what: String) {
        if !ok {
            failures += 1
            print("FAIL (rank \(communicator.rank) of \(ranks)): \(what)")
        }
    }

    // 1. A NaN in the last rank's rows: that rank reports nonFinite, the others communication,
    //    and every rank's sketch is unchanged.
    let p = 7 * ranks + 2
    let shard = try RowShard(dimension: p, communicator: communicator)
    var sketch = try FrequentDirectionsSketch(shard: shard, rank: 3, compensation: .residualDiagonal)
    var rng = Xoshiro256StarStar(seed: 13)
    let good = Matrix.gaussian(rows: p, columns: 9, using: &rng)
    try sketch.ingest(localRows(good, shard.rows), columns: 0..<9, forgetting: 0.3)
    let before = sketch
    var bad = Matrix.gaussian(rows: p, columns: 4, using: &rng)
    bad[RowShard.rows(of: last, dimension: p, ranks: ranks).lowerBound, 2] = Double.nan
    do {
        try sketch.ingest(localRows(bad, shard.rows), columns: 0..<4, forgetting: 0.3)
        expect(false, "a NaN on rank \(last)'s rows was accepted")
    } catch let error as LinearAlgebraError {
        switch error {
        case .nonFinite: expect(communicator.rank == last, "rank \(communicator.rank) reported another rank's NaN as its own")
        case .communication: expect(communicator.rank != last, "the rank with the NaN reported a communication error")
        default: expect(false, "unexpected error \(error)")
        }
    }
    expect(sketch == before, "a refused block changed the sketch")

    // 2. A factorisation that fails on rank 0 fails on every rank.
    var notPositive = Matrix.identity(3)
    notPositive[2, 2] = -1
    do {
        _ = try CholeskyFactorization(notPositive, factoredOnRootOf: communicator)
        expect(false, "an indefinite matrix was factored")
    } catch let error as LinearAlgebraError {
        if case .notPositiveDefinite = error { expect(communicator.rank == 0, "rank \(communicator.rank) factored it itself") }
        else if case .communication = error { expect(communicator.rank != 0, "rank 0 reported a communication error") }
        else { expect(false, "unexpected error \(error)") }
    }

    // 3. Fewer rows than ranks is refused on every rank, before any collective.
    if ranks > 1 {
        do {
            _ = try RowShard(dimension: ranks - 1, communicator: communicator)
            expect(false, "\(ranks - 1) rows were split over \(ranks) ranks")
        } catch {}
    }
    // 4. The one sharded operation that is not supported says so.
    if ranks > 1 {
        do {
            _ = try FrequentDirectionsSketch(shard: shard, rank: 2, shrinkMethod: .svd)
            expect(false, "the .svd shrink was accepted on a shard")
        } catch {}
    }
    try communicator.barrier()
    report("errors are agreed: a bad block on one rank and a failed factorisation on rank 0 throw on all \(ranks) rank(s)")
    return failures
}
