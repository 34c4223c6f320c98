// nhgd-distributed-check: the distributed property checks, run under
// `mpirun --oversubscribe -np R` for R = 1, 2, 3 by `make test` (Docs/distributed.md).
//
// Every rank draws the same cases from the same seeds, builds the one-process sketch of the
// whole stream and its sharded part of the same sketch, and checks that they agree; the
// verdicts are summed across ranks, so every rank exits with the same status. Rank 0 prints.
//
//   NHGD_DISTRIBUTED_CASES=200         more cases (default 60)
//   NHGD_DISTRIBUTED_SEED=0x…          replay one case (the seed a failure prints)
//   NHGD_DISTRIBUTED_BASE_SEED=7       another stream of cases
//   NHGD_DISTRIBUTED_EXIT_RANK=1       that rank exits at once (the failing-rank drill)
import Foundation
import NHGDDistributed
import NHGDLinearAlgebra

let communicator: MPICommunicator
do {
    communicator = try MPIEnvironment.world()
} catch {
    FileHandle.standardError.write(Data("nhgd-distributed-check: \(error)\n".utf8))
    exit(2)
}

func say(_ line: String) {
    if communicator.rank == 0 { print(line) }
}

let environment = ProcessInfo.processInfo.environment
let cases = environment["NHGD_DISTRIBUTED_CASES"].flatMap { Int($0) } ?? 60
let baseSeed = environment["NHGD_DISTRIBUTED_BASE_SEED"].flatMap { UInt64($0) } ?? 0x5EED_D157
let replay = environment["NHGD_DISTRIBUTED_SEED"].flatMap { UInt64($0.replacingOccurrences(of: "0x", with: ""), radix: 16) }

// Every rank must run the same cases: a rank started with other settings stops them all, with
// one line (from rank 0), instead of leaving the others in mismatched collectives.
do {
    try communicator.requireAgreement(
        // Seeds as two exact 32-bit halves each, so the message prints them as integers.
        [Double(cases), Double(baseSeed >> 32), Double(baseSeed & 0xFFFF_FFFF),
         Double((replay ?? 0) >> 32), Double((replay ?? 0) & 0xFFFF_FFFF), replay == nil ? 0 : 1],
        about: "the check's settings (NHGD_DISTRIBUTED_CASES, _SEED, _BASE_SEED)")
} catch {
    say("nhgd-distributed-check: \(error)")
    MPIEnvironment.finalize()
    exit(2)
}

// The failing-rank drill of `make test-distributed`: this rank exits at once, while the others
// enter a collective; mpirun must then stop them (non-zero status, no hang).
if let drill = environment["NHGD_DISTRIBUTED_EXIT_RANK"].flatMap({ Int($0) }), drill == communicator.rank {
    FileHandle.standardError.write(Data("nhgd-distributed-check: rank \(drill) exits (NHGD_DISTRIBUTED_EXIT_RANK)\n".utf8))
    exit(3)
}

var failures = 0
do {
    failures += try checkErrorsAreAgreed(communicator, report: say)
    failures += try checkDataParallelEqualsOneProcess(communicator, report: say)
    failures += try checkShardedSketchEqualsOneProcess(
        communicator, cases: cases, baseSeed: baseSeed, replay: replay, report: say)
    // Every rank's failure count, summed: all ranks exit alike.
    var total = [Double(failures)]
    try communicator.allreduceSum(&total)
    failures = Int(total[0])
} catch {
    // A check threw where no rank expected it: stop every rank, with one line.
    FileHandle.standardError.write(Data("nhgd-distributed-check: rank \(communicator.rank): \(error)\n".utf8))
    MPIEnvironment.abort(status: 1)
}
say(failures == 0 ? "nhgd-distributed-check: all checks passed on \(communicator.size) rank(s)"
                  : "nhgd-distributed-check: \(failures) failure(s) on \(communicator.size) rank(s)")
MPIEnvironment.finalize()
exit(failures == 0 ? 0 : 1)
