import Foundation
import NaturalHypergradient
import NHGDReporting

/// `scaling`: how the hypergradient methods scale with p, on SyntheticLogisticRegression
/// (p = 10³…10⁷, sketch rank k ∈ {16, 64, 256}) and on MLP hyper-cleaning of MNIST
/// (p ≈ 10⁵…10⁶).
///
/// Every cell runs in a child process of this executable (`nhgd-bench scaling --cell SPEC
/// --json FILE`, started with Foundation.Process), so its peak resident set (`VmHWM`) is the
/// cell's own; the child reports times and byte counts, the parent judges them against the
/// probes it measured (read bandwidth for the Woodbury solve, dgemm for the extrapolated
/// exact method). Per cell (see ``ScalingCellRunner/measure(_:_:x:innerStepSize:neumannStep:damping:exactAssembly:)``):
/// - `sgd loop`: the T inner steps every method shares (one combination column per step);
/// - `nhgd iteration`, `cg-10 iteration`: a pipelined outer iteration minus the SGD loop (NHGD
///   with its column budget of c Gaussian columns every e steps), and their ratio;
/// - `woodbury solve`: one solve on the sketch's buffer in place, ratio to the read bandwidth;
/// - `nhgd`, `cg-10`, `neumann-10`, `nystrom`: one hypergradient estimate (same minibatch b
///   for the HVPs);
/// - `exact`: measured while the dense Hessian fits 4 GiB, otherwise `feasible: false` with
///   `bytes needed` = 8p² and `seconds` = p³/3 flops at the measured dgemm rate;
/// - `cg-200 (reference)`: the reference where exact is infeasible; every estimate carries
///   `cosine` and `relative error` against the reference (`reference` names it).
/// Cells whose memory model exceeds the budget are not started; their records say
/// `feasible: false` with the bytes they would need.
struct ScalingSuite: BenchmarkSuite {
    let name = "scaling"
    let summary = "hypergradient methods vs p (1e3…1e7) on synthetic logistic regression and an MNIST MLP; peak memory per cell"

    /// Cells are skipped when their memory model exceeds this (24 GiB machine, 2 GiB headroom).
    static let memoryBudget = 22 << 30

    /// The cells of a run.
    static func plan(quick: Bool, smoke: Bool) -> [ScalingCell] {
        func synthetic(_ p: Int, _ k: Int, n: Int = 4096, m: Int = 1024, s: Int = 32, b: Int = 32) -> ScalingCell {
            ScalingCell(kind: .synthetic, ["p": p, "k": k, "n": n, "m": m, "s": min(s, p), "b": b])
        }
        func mlp(_ h: Int, k: Int = 64, b: Int = 64, n: Int = 2000, m: Int = 1000) -> ScalingCell {
            ScalingCell(kind: .mlp, ["h": h, "k": k, "b": b, "n": n, "m": m])
        }
        if smoke {
            return [synthetic(1000, 16, n: 512, m: 128, s: 16, b: 16), mlp(4, k: 8, b: 8, n: 100, m: 50)]
        }
        let powers = quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000, 10_000_000]
        let ranks = quick ? [16, 64] : [16, 64, 256]
        var cells = powers.flatMap { p in ranks.map { synthetic(p, $0) } }
        cells += (quick ? [128] : [128, 512, 1280]).map { mlp($0) }
        return cells
    }

    func run(_ context: BenchmarkContext) throws -> [BenchmarkRecord] {
        let machine = context.machine()
        let executable = try Self.ownExecutable()
        var records = [BenchmarkRecord]()
        for cell in Self.plan(quick: context.options.quick, smoke: context.options.smoke) {
            var cellRecords: [BenchmarkRecord]
            if cell.modelBytes > Self.memoryBudget {
                print("scaling: skipping \(cell): needs ≈ \(formatBytes(cell.modelBytes)) > budget \(formatBytes(Self.memoryBudget))")
                cellRecords = ["nhgd", "nhgd iteration", "cg-10", "cg-10 iteration", "neumann-10", "nystrom", "woodbury solve", "sgd loop"].map { method in
                    var r = ScalingCellRunner.record(cell, method, seconds: .nan, feasible: false,
                                                     metrics: [("bytes needed", Double(cell.modelBytes))])
                    r.labels.append(("skipped", "memory model \(formatBytes(cell.modelBytes)) exceeds \(formatBytes(Self.memoryBudget))"))
                    return r
                }
                cellRecords.append(Self.infeasibleExact(cell))
                for index in cellRecords.indices { cellRecords[index].metrics.append(("peak_bytes", Double(cell.modelBytes))) }
            } else {
                let started = ContinuousClock.now
                cellRecords = try Self.runChild(executable, cell: cell, threads: context.options.threads)
                print("scaling: \(cell) done in \(ContinuousClock.now - started)")
            }
            for index in cellRecords.indices {
                let r = cellRecords[index]
                let method = r.labels.first { $0.0 == "method" }?.1
                if method == "woodbury solve", let bytes = r.metrics.first(where: { $0.0 == "bytes" })?.1, r.seconds.isFinite {
                    // Against the probe interleaved with the solves in the child when present.
                    let probe = r.metrics.first { $0.0 == "probe GB/s" }.map { $0.1 * 1e9 } ?? machine.readBytesPerSecond
                    cellRecords[index].ratio = bytes / r.seconds / probe
                    cellRecords[index].limit = "read bandwidth (interleaved probe)"
                    cellRecords[index].metrics.append(("ratio to start probe", bytes / r.seconds / machine.readBytesPerSecond))
                }
                if method == "exact", r.flags.first?.1 == false {
                    cellRecords[index] = Self.predictedExact(r, p: cell.parameterCount, machine: machine)
                }
            }
            records += cellRecords
        }
        print(Self.summaryTable(records))
        try ScalingPlots.write(records, directory: Self.plotsDirectory(context.options))
        return records
    }

    /// An infeasible-exact record for a cell that did not run.
    static func infeasibleExact(_ cell: ScalingCell) -> BenchmarkRecord {
        ScalingCellRunner.record(cell, "exact", seconds: .nan, feasible: false, metrics: [("bytes needed", cell.denseHessianBytes)])
    }

    /// Fills in the time the exact method would need: p³/3 flops (Cholesky) at the dgemm rate.
    static func predictedExact(_ record: BenchmarkRecord, p: Int, machine: MachineProbes) -> BenchmarkRecord {
        var r = record
        let flops = pow(Double(p), 3) / 3
        r.seconds = flops / machine.dgemmFlopsPerSecond
        r.name = r.name.hasSuffix("(predicted)") ? r.name : r.name + " (predicted)"
        r.limit = "dgemm (predicted)"
        r.metrics.append(("predicted flops", flops))
        return r
    }

    /// Where the SVGs go: `--plots DIR`, else next to `--json`, else the current directory.
    static func plotsDirectory(_ options: BenchmarkOptions) -> String {
        if let directory = options.plotsDirectory { return directory }
        if let json = options.jsonPath { return URL(fileURLWithPath: json).deletingLastPathComponent().path }
        return FileManager.default.currentDirectoryPath
    }

    static func ownExecutable() throws -> URL {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: path)
    }

    struct ChildFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs one cell in a child process and reads its records back.
    static func runChild(_ executable: URL, cell: ScalingCell, threads: Int) throws -> [BenchmarkRecord] {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("nhgd-scaling-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: output) }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["scaling", "--cell", cell.description, "--json", output.path, "--threads", "\(threads)"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderrData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ChildFailure(description: "cell \(cell) exited with \(process.terminationStatus): \(String(decoding: stderrData, as: UTF8.self))")
        }
        let text = try String(contentsOf: output, encoding: .utf8)
        guard case let .array(items) = try JSONValue(parsing: text) else {
            throw ChildFailure(description: "cell \(cell) wrote no JSON array")
        }
        return try items.map(BenchmarkRecord.init(json:))
    }

    /// Child mode: measure one cell, add the peak resident set, write the records to `--json`.
    static func runChildCell(_ spec: String, options: BenchmarkOptions) -> Int32 {
        do {
            let cell = try ScalingCell(parsing: spec)
            guard let path = options.jsonPath else { throw ChildFailure(description: "--cell needs --json FILE") }
            var records = try ScalingCellRunner.run(cell)
            let peak = Double(peakResidentBytes())
            for index in records.indices { records[index].metrics.append(("peak_bytes", peak)) }
            try BenchmarkRecord.jsonArray(records).write(toFile: path, atomically: true, encoding: .utf8)
            return 0
        } catch {
            FileHandle.standardError.write(Data("nhgd-bench scaling --cell \(spec): \(error)\n".utf8))
            return 1
        }
    }

    /// One row per cell and method: seconds, accuracy, peak memory.
    static func summaryTable(_ records: [BenchmarkRecord]) -> String {
        var table = TextTable(headers: ["problem", "p", "k", "method", "feasible", "time", "iteration", "cosine", "rel. error",
                                        "reference", "ratio", "peak RSS", "bytes needed"])
        func metric(_ r: BenchmarkRecord, _ key: String) -> Double? { r.metrics.first { $0.0 == key }?.1 }
        func label(_ r: BenchmarkRecord, _ key: String) -> String { r.labels.first { $0.0 == key }?.1 ?? "" }
        for r in records where r.suite == "scaling" {
            table.append([
                label(r, "problem"), "\(r.p)", "\(r.k)", label(r, "method"), (r.flags.first?.1 ?? true) ? "yes" : "no",
                r.seconds.isFinite ? NumberFormatting.duration(r.seconds) : "—",
                metric(r, "iteration seconds").map(NumberFormatting.duration) ?? "",
                metric(r, "cosine").map { String(format: "%.6f", $0) } ?? metric(r, "cosine vs cg-10").map { String(format: "%.4f*", $0) } ?? "",
                metric(r, "relative error").map { String(format: "%.2e", $0) } ?? "",
                label(r, "reference"),
                r.ratio.map { String(format: "%.2f", $0) } ?? "",
                metric(r, "peak_bytes").map { formatBytes(Int($0)) } ?? "",
                metric(r, "bytes needed").map { formatBytes(Int(min($0, 9e18))) } ?? "",
            ])
        }
        return table.render()
    }
}
