import Dispatch
import Testing
import NHGDLinearAlgebra

/// `BLAS.withThreadCount` pins OpenBLAS's process-wide thread count for a block.
@Suite struct BLASThreadCountTests {
    /// Other tests run in parallel and pin counts of their own, so the count is only ours to
    /// read inside a block: the outer block holds the lock while the inner ones are checked.
    @Test func setsAndRestoresTheCountAndNests() {
        for outer in [1, 2] {
            BLAS.withThreadCount(outer) {
                #expect(BLAS.threadCount == outer)
                BLAS.withThreadCount(3 - outer) {
                    #expect(BLAS.threadCount == 3 - outer)
                    BLAS.withThreadCount(outer) { #expect(BLAS.threadCount == outer) }  // the lock is recursive
                    #expect(BLAS.threadCount == 3 - outer)
                }
                #expect(BLAS.threadCount == outer, "the inner block did not restore the count")
            }
        }
    }

    @Test func concurrentBlocksEachSeeTheirOwnCountThroughout() {
        // Two threads pin different counts and re-read them many times: with the lock each
        // block sees only its own count; without it they would interleave.
        let group = DispatchGroup()
        let mismatches = Mismatches()
        for count in [1, 2] {
            DispatchQueue.global().async(group: group) {
                for _ in 0..<200 {
                    BLAS.withThreadCount(count) {
                        for _ in 0..<20 where BLAS.threadCount != count { mismatches.record() }
                    }
                }
            }
        }
        group.wait()
        #expect(mismatches.count == 0)
    }
}

private final class Mismatches: @unchecked Sendable {
    private let lock = DispatchSemaphore(value: 1)
    private var value = 0
    func record() { lock.wait(); value += 1; lock.signal() }
    var count: Int { lock.wait(); defer { lock.signal() }; return value }
}
