import Foundation
import NaturalHypergradient

// nhgd-bench: performance measurements with ratios to the machine's limits, measured in the
// same process. See Docs/benchmarks.md.

func warnAboutBuildConfiguration() {
    #if DEBUG
    FileHandle.standardError.write(Data("warning: nhgd-bench was built in debug mode; timings are meaningless. Use `swift run -c release nhgd-bench`.\n".utf8))
    #endif
    #if NHGD_CHECK_INVARIANTS
    FileHandle.standardError.write(Data("warning: built with NHGD_CHECK_INVARIANTS; invariant checks distort timings.\n".utf8))
    #endif
}

func runBenchmarks() -> Int32 {
    let defaultThreads = ProcessInfo.processInfo.activeProcessorCount
    let options: BenchmarkOptions
    do {
        guard let parsed = try BenchmarkCommandLine.parse(Array(CommandLine.arguments.dropFirst()), defaultThreads: defaultThreads) else {
            print(BenchmarkCommandLine.help, terminator: "")
            return 0
        }
        options = parsed
    } catch {
        FileHandle.standardError.write(Data("nhgd-bench: \(error)\n\(BenchmarkCommandLine.usage)\n".utf8))
        return 2
    }
    BLAS.threadCount = options.threads
    if let cell = options.scalingCell { return ScalingSuite.runChildCell(cell, options: options) }
    warnAboutBuildConfiguration()
    let context = BenchmarkContext(options: options)
    let suites = options.suites.isEmpty ? BenchmarkRegistry.suites : options.suites.compactMap(BenchmarkRegistry.suite(named:))
    print("nhgd-bench: OpenBLAS threads \(BLAS.threadCount), \(ProcessInfo.processInfo.activeProcessorCount) cores\(options.quick ? ", quick mode" : "")")
    let machine = context.machine()
    print(String(format: "probes: read %.2f GB/s, copy %.2f GB/s, dgemm %.1f GFLOP/s",
                 machine.readBytesPerSecond / 1e9, machine.copyBytesPerSecond / 1e9, machine.dgemmFlopsPerSecond / 1e9))
    var records = machine.records
    for suite in suites {
        do {
            let result = try suite.run(context)
            records += result
        } catch {
            FileHandle.standardError.write(Data("nhgd-bench: suite \(suite.name) failed: \(error)\n".utf8))
            return 1
        }
    }
    print(BenchmarkRecord.table(records), terminator: "")
    if let path = options.jsonPath {
        var build = "release"
        #if DEBUG
        build = "debug"
        #endif
        let json = BenchmarkRecord.jsonArray(records, context: [("build", build), ("blas_threads", "\(BLAS.threadCount)")])
        do {
            try json.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            FileHandle.standardError.write(Data("nhgd-bench: cannot write \(path): \(error)\n".utf8))
            return 1
        }
    }
    return 0
}

exit(runBenchmarks())
