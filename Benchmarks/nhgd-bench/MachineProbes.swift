import Foundation
import NaturalHypergradient
internal import CLAPACK

/// In-process measurements of the machine's limits, against which suites report ratios.
///
/// Measured in the same process and run as the kernels they judge, because the machine is
/// shared and noisy: a ratio only means something against figures taken at the same time.
/// - Read bandwidth: `cblas_ddot` of two arrays of 2 × 128 MiB (well beyond the last-level
///   cache), counting 16 bytes per element.
/// - Copy bandwidth: `cblas_dcopy` of 128 MiB, counting 16 bytes per element (read + write,
///   STREAM's convention; write-allocate traffic is not counted).
/// - dgemm: n × n × n with n = 2048 (1024 in quick mode), 2n³ flops.
/// Each figure is the median of several repetitions. Suites whose ratios matter also re-run
/// the read probe interleaved with their own repetitions
/// (``BenchmarkContext/interleavedWithReadProbe(repetitions:_:)``), since the load from other
/// tenants changes from minute to minute.
final class MachineProbes {
    let readBytesPerSecond: Double
    let copyBytesPerSecond: Double
    let dgemmFlopsPerSecond: Double
    let probeElements: Int
    let dgemmSize: Int
    let threads: Int
    /// The two arrays the read probe streams, kept for re-runs.
    private let x: [Double], y: [Double]
    private var sink = 0.0

    init(read: Double, copy: Double, dgemm: Double, elements: Int, dgemmSize: Int, threads: Int, x: [Double], y: [Double]) {
        readBytesPerSecond = read; copyBytesPerSecond = copy; dgemmFlopsPerSecond = dgemm
        probeElements = elements; self.dgemmSize = dgemmSize; self.threads = threads
        self.x = x; self.y = y
    }

    /// Bytes one read probe streams.
    var readProbeBytes: Int { 16 * probeElements }

    /// Seconds of one read probe (`cblas_ddot` over the two arrays).
    func readProbeSeconds() -> Double {
        let n = Int32(probeElements)
        var result = 0.0
        let t = time {
            result = x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in cblas_ddot(n, xp.baseAddress, 1, yp.baseAddress, 1) }
            }
        }
        sink += result
        return t
    }

    static func measure(quick: Bool) -> MachineProbes {
        let n = 16 << 20  // 16 Mi doubles = 128 MiB per array
        let x = filledArray(count: n, seed: 1), y = filledArray(count: n, seed: 2)
        var z = [Double](repeating: 0, count: n)
        let reps = quick ? 3 : 7
        var readTimes = [Double](), copyTimes = [Double]()
        var sink = 0.0
        for _ in 0..<(reps + 1) {
            readTimes.append(time {
                sink += x.withUnsafeBufferPointer { xp in
                    y.withUnsafeBufferPointer { yp in cblas_ddot(Int32(n), xp.baseAddress, 1, yp.baseAddress, 1) }
                }
            })
            copyTimes.append(time {
                x.withUnsafeBufferPointer { xp in
                    z.withUnsafeMutableBufferPointer { zp in cblas_dcopy(Int32(n), xp.baseAddress, 1, zp.baseAddress, 1) }
                }
            })
        }
        blackHole(sink)
        blackHole(z)
        // Drop the first (warm-up: page faults) of each.
        let read = Double(16 * n) / median(Array(readTimes.dropFirst()))
        let copy = Double(16 * n) / median(Array(copyTimes.dropFirst()))
        let m = quick ? 1024 : 2048
        let a = filledArray(count: m * m, seed: 3), b = filledArray(count: m * m, seed: 4)
        var c = [Double](repeating: 0, count: m * m)
        var gemmTimes = [Double]()
        for _ in 0..<(quick ? 3 : 5) {
            gemmTimes.append(time {
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(m), Int32(m), 1,
                                        ap.baseAddress, Int32(m), bp.baseAddress, Int32(m), 0, cp.baseAddress, Int32(m))
                        }
                    }
                }
            })
        }
        blackHole(c)
        return MachineProbes(
            read: read, copy: copy, dgemm: 2 * pow(Double(m), 3) / median(Array(gemmTimes.dropFirst())),
            elements: n, dgemmSize: m, threads: Int(openblas_get_num_threads()), x: x, y: y)
    }

    /// The probes as records (suite "probe"), so the JSON carries the limits every ratio used.
    var records: [BenchmarkRecord] {
        [
            BenchmarkRecord(suite: "probe", name: "read bandwidth (ddot)", p: probeElements, k: 0,
                            seconds: Double(16 * probeElements) / readBytesPerSecond,
                            metrics: [("GB/s", readBytesPerSecond / 1e9), ("threads", Double(threads))]),
            BenchmarkRecord(suite: "probe", name: "copy bandwidth (dcopy)", p: probeElements, k: 0,
                            seconds: Double(16 * probeElements) / copyBytesPerSecond,
                            metrics: [("GB/s", copyBytesPerSecond / 1e9), ("threads", Double(threads))]),
            BenchmarkRecord(suite: "probe", name: "dgemm", p: dgemmSize, k: dgemmSize,
                            seconds: 2 * pow(Double(dgemmSize), 3) / dgemmFlopsPerSecond,
                            metrics: [("GFLOP/s", dgemmFlopsPerSecond / 1e9), ("threads", Double(threads))]),
        ]
    }
}

/// `count` uniform values in [−1, 1) from a seeded generator (no denormals, no zeros pattern).
func filledArray(count: Int, seed: UInt64) -> [Double] {
    var rng = Xoshiro256StarStar(seed: seed)
    return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count { buffer[i] = Double(rng.next() >> 11) * 0x1p-52 - 1 }
        initialized = count
    }
}
