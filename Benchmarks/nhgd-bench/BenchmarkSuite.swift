/// A family of measurements `nhgd-bench` can run by name.
///
/// Adding a suite is one file: a type conforming to this protocol, plus one entry in
/// ``BenchmarkRegistry/suites``. A suite returns records; the driver prints them as a table
/// and writes them to JSON, so suites never format output themselves.
protocol BenchmarkSuite: Sendable {
    /// The name used on the command line and in the `suite` field of every record.
    var name: String { get }
    /// One line for `--help`.
    var summary: String { get }
    /// Runs the measurements. `context` gives the options and the machine probes (measured
    /// once per process, on first use).
    func run(_ context: BenchmarkContext) throws -> [BenchmarkRecord]
}

/// Options shared by all suites.
struct BenchmarkOptions: Sendable {
    /// Smaller problems and fewer repetitions (the whole `--quick` run stays under ~30 s per suite).
    var quick = false
    /// OpenBLAS threads, set explicitly before anything runs.
    var threads = 1
    /// Where to write the JSON array of records, if anywhere.
    var jsonPath: String?
    /// Suites to run (all when empty).
    var suites: [String] = []
    /// Where suites that draw plots write their SVGs (next to the JSON when nil).
    var plotsDirectory: String?
    /// The smallest cells only (for the debug-build smoke test).
    var smoke = false
    /// `scaling` child mode: measure this one cell and exit (see ScalingSuite).
    var scalingCell: String?
}

/// What a suite receives: the options and lazily measured machine limits.
final class BenchmarkContext {
    let options: BenchmarkOptions
    private var probes: MachineProbes?

    init(options: BenchmarkOptions) { self.options = options }

    /// Memory bandwidth and dgemm throughput, measured on first use and then shared, so every
    /// ratio in one run is against the same figures.
    func machine() -> MachineProbes {
        if let probes { return probes }
        let measured = MachineProbes.measure(quick: options.quick)
        probes = measured
        return measured
    }

    /// Median seconds of `body` and median read bandwidth (bytes/s) of the ddot probe, timed
    /// alternately (probe, body, probe, body, …) after one warm-up of each, so that the ratio
    /// of the two compares measurements taken under the same load on a shared machine.
    func interleavedWithReadProbe(repetitions: Int, _ body: () throws -> Void) rethrows -> (seconds: Double, readBytesPerSecond: Double) {
        let machine = machine()
        try body()
        _ = machine.readProbeSeconds()
        var bodyTimes = [Double](), probeTimes = [Double]()
        for _ in 0..<max(1, repetitions) {
            probeTimes.append(machine.readProbeSeconds())
            bodyTimes.append(try time(body))
        }
        return (median(bodyTimes), Double(machine.readProbeBytes) / median(probeTimes))
    }

    /// `n` timed repetitions (after one warm-up) with the quick-mode count when `--quick`.
    func repetitions(full: Int, quick: Int) -> Int { options.quick ? quick : full }
}

/// One measurement. `suite`, `name`, `p`, `k` and `seconds` are always present; `ratio` is
/// achieved ÷ machine limit where a limit applies (bandwidth for memory-bound kernels, dgemm
/// throughput for compute-bound ones); `metrics` holds anything else (bytes, GB/s, flops).
struct BenchmarkRecord {
    var suite: String
    var name: String
    var p: Int
    var k: Int
    /// Median wall-clock seconds of one operation.
    var seconds: Double
    /// Achieved ÷ limit, when a machine limit applies.
    var ratio: Double?
    /// What `ratio` is relative to, for the table (for example "read bandwidth").
    var limit: String?
    /// Further named figures, in display order.
    var metrics: [(String, Double)] = []
    /// Named strings (written to JSON after the metrics, e.g. `method`).
    var labels: [(String, String)] = []
    /// Named booleans (written to JSON after the labels, e.g. `feasible`).
    var flags: [(String, Bool)] = []
}

/// The suites `nhgd-bench` knows. Add new suites here (one line each).
enum BenchmarkRegistry {
    static let suites: [any BenchmarkSuite] = [
        WoodburySuite(),
        SketchSuite(),
        OverheadSuite(),
        ScalingSuite(),
        SoakSuite(),
    ]

    static func suite(named name: String) -> (any BenchmarkSuite)? {
        suites.first { $0.name == name }
    }
}
