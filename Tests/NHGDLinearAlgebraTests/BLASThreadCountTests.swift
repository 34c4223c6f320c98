import Dispatch
import Testing
import NHGDLinearAlgebra

/// `BLAS.withThreadCount` pins OpenBLAS's process-wide thread count for a block.
@Suite struct BLASThreadCountTests {
    @Test func setsAndRestoresTheCountAndNests() {
        let before = BLAS.threadCount
        BLAS.withThreadCount(1) {
            #expect(BLAS.threadCount == 1)
            BLAS.withThreadCount(2) { #expect(BLAS.threadCount == 2) }  // the lock is recursive
            #expect(BLAS.threadCount == 1)
        }
        #expect(BLAS.threadCount == before)
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
