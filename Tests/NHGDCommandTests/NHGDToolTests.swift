import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import NHGDCommand
import NHGDBilevel
import NHGDReporting
import Synchronization
import Testing

/// The tool with captured streams and a fixed clock, run once.
struct ToolRun {
    let status: ToolExitStatus
    let stdout: CapturedText
    let stderr: CapturedText
    let runner: ScriptedRunner

    init(_ arguments: [String], runner: ScriptedRunner = ScriptedRunner()) {
        let out = CapturedText(), err = CapturedText()
        let ticks = Mutex(0.0)
        let tool = NHGDTool(runner: runner, standardOutput: out, standardError: err,
                            clock: { ticks.withLock { $0 += 2.5; return $0 } })
        status = tool.run(arguments)
        stdout = out
        stderr = err
        self.runner = runner
    }

    /// The last stdout line parsed as JSON.
    func finalJSON() throws -> JSONValue {
        try JSONValue(parsing: try #require(stdout.lines.last))
    }
}

func scratchDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "nhgd-command-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("nhgd command line")
struct NHGDToolTests {
    @Test func helpOfEverySubcommandListsEveryOption() throws {
        for command in NHGDCommandLine.declaration.subcommands {
            let run = ToolRun([command.name, "--help"])
            #expect(run.status == .success)
            #expect(run.stderr.text.isEmpty)
            #expect(run.runner.configurations.isEmpty)
            #expect(run.stdout.text.contains("usage: nhgd \(command.name) [options]"))
            for option in command.options {
                #expect(run.stdout.text.contains(option.spelling), "\(command.name) help lacks \(option.spelling)")
            }
        }
        let top = ToolRun(["--help"])
        #expect(top.status == .success)
        for name in ["clean (default)", "regularize", "compare"] { #expect(top.stdout.text.contains(name)) }
        // The issue's option list, on every subcommand.
        let required = ["estimator", "rank", "damping", "forgetting", "inner-steps", "batch-size", "outer-steps", "inner-lr",
                        "outer-lr", "seed", "threads", "train", "validation", "test", "data", "output", "quiet"]
        for command in NHGDCommandLine.declaration.subcommands {
            for name in required where !(command.name == "compare" && name == "estimator") {
                #expect(command.option(named: name) != nil, "\(command.name) lacks --\(name)")
            }
        }
    }

    @Test func badCommandLinesPrintOneLineThenUsageAndExit2() {
        let cases: [([String], String, String)] = [
            (["--rnak", "3"], "unknown option '--rnak' for 'nhgd clean'; did you mean '--rank'?", "usage: nhgd clean [options]"),
            (["clean", "--rank", "0"], "invalid value '0' for '--rank': expected an integer between 1 and 4096", "usage: nhgd clean [options]"),
            (["--damping", "-1"], "invalid value '-1' for '--damping': expected a number greater than 0", "usage: nhgd clean [options]"),
            (["--noise", "1.5"], "invalid value '1.5' for '--noise': expected a number between 0 and 1", "usage: nhgd clean [options]"),
            (["--estimator", "newton"], "invalid value 'newton' for '--estimator': expected one of nhgd, cg, neumann, amigo, exact, soba, qnbo, nbo, nhgd-pcg, nystrom", "usage: nhgd clean [options]"),
            (["--seed"], "missing value for '--seed': expected an integer of at least 0", "usage: nhgd clean [options]"),
            (["--seed", "-1"], "invalid value '-1' for '--seed': expected an integer of at least 0", "usage: nhgd clean [options]"),
            (["--rank", "3", "--rank", "4"], "option '--rank' given more than once", "usage: nhgd clean [options]"),
            (["--quiet=1"], "option '--quiet' is a flag and takes no value", "usage: nhgd clean [options]"),
            (["clena"], "unknown subcommand 'clena' for 'nhgd'; did you mean 'clean'?", "usage: nhgd [<subcommand>]"),
            (["regularize", "--noise", "0.2"], "unknown option '--noise' for 'nhgd regularize'", "usage: nhgd regularize [options]"),
            (["regularize", "--pair", "3"], "invalid value '3' for '--pair': expected a comma-separated list of 2 integers between 0 and 9", "usage: nhgd regularize [options]"),
            (["regularize", "--pair", "4,4"], "invalid value '4,4' for '--pair': expected two different digits", "usage: nhgd regularize [options]"),
            (["compare", "--estimators", "nhgd,bfgs"], "invalid value 'nhgd,bfgs' for '--estimators': expected a comma-separated list of 1 to 10 values from nhgd, cg, neumann, amigo, exact, soba, qnbo, nbo, nhgd-pcg, nystrom", "usage: nhgd compare [options]"),
            (["compare", "--estimators", "cg,cg"], "invalid value 'cg,cg' for '--estimators': expected each estimator at most once", "usage: nhgd compare [options]"),
            (["compare", "--target-loss", "low"], "invalid value 'low' for '--target-loss': expected a number", "usage: nhgd compare [options]"),
            (["clean", "extra"], "unexpected argument 'extra'", "usage: nhgd clean [options]"),
            (["--data", "/nonexistent/file.csv"], "cannot read '--data' file '/nonexistent/file.csv': no such file", "usage: nhgd clean [options]"),
            (["--data", "/"], "cannot read '--data' file '/': it is a directory", "usage: nhgd clean [options]"),
            // More sketch columns than gradients in a block (the issue's hang), in every subcommand.
            (["regularize", "--sketch-columns", "1000000"],
             "invalid value '1000000' for '--sketch-columns': expected at most --batch-size 64 (a block of 64 gradients has rank at most 64)",
             "usage: nhgd regularize [options]"),
            (["clean", "--batch-size", "16", "--sketch-columns", "17"],
             "invalid value '17' for '--sketch-columns': expected at most --batch-size 16 (a block of 16 gradients has rank at most 16)",
             "usage: nhgd clean [options]"),
            (["compare", "--task", "regularize", "--sketch-columns", "65"],
             "invalid value '65' for '--sketch-columns': expected at most --batch-size 64 (a block of 64 gradients has rank at most 64)",
             "usage: nhgd compare [options]"),
            // Options that choose data the task or the file replaces.
            (["compare", "--task", "clean", "--pair", "3,8"],
             "option '--pair' cannot be used with '--task clean': it chooses the MNIST digits of regularize", "usage: nhgd compare [options]"),
            (["compare", "--pair", "3,8"],
             "option '--pair' cannot be used with '--task clean': it chooses the MNIST digits of regularize", "usage: nhgd compare [options]"),
            (["regularize", "--pair", "3,8", "--data", "f.csv"],
             "option '--pair' cannot be used with '--data': the data set is the file", "usage: nhgd regularize [options]"),
            (["compare", "--task", "regularize", "--pair", "3,8", "--data", "f.csv"],
             "option '--pair' cannot be used with '--data': the data set is the file", "usage: nhgd compare [options]"),
            (["compare", "--task", "regularize", "--noise", "0.2"],
             "option '--noise' cannot be used with '--task regularize': it corrupts the labels of clean", "usage: nhgd compare [options]"),
        ]
        for (arguments, message, usage) in cases {
            let run = ToolRun(arguments)
            #expect(run.status == .usage, "\(arguments)")
            #expect(run.status.rawValue == 2)
            #expect(run.stdout.text.isEmpty, "\(arguments) wrote to stdout")
            #expect(run.runner.configurations.isEmpty, "\(arguments) ran the job")
            let lines = run.stderr.lines
            #expect(lines.first == "nhgd: error: " + message, "\(arguments)")
            #expect(lines.dropFirst().first == usage, "\(arguments)")
            #expect(lines.count == 3)
        }
    }

    /// A value or path with a newline or a terminal control is escaped: the error stays one
    /// line (the fuzz target's first finding, in the parser's messages and the tool's own).
    @Test func errorsQuotingControlCharactersStayOneLine() {
        for arguments in [["c\nlean"], ["--rank", "1\n2"], ["--data", "/nonexistent/a\nb.csv"], ["--output", "/proc/x\ny"],
                          ["regularize", "--data", "/nonexistent/\u{1b}[31m.csv"]] {
            let run = ToolRun(arguments)
            #expect(run.status == .usage, "\(arguments)")
            #expect(run.stderr.lines.count == 3, "\(arguments): \(run.stderr.lines)")
            #expect(!run.stderr.text.contains("\u{1b}"), "\(arguments)")
        }
        #expect(ToolRun(["--data", "/nonexistent/a\nb.csv"]).stderr.lines.first
            == #"nhgd: error: cannot read '--data' file '/nonexistent/a\nb.csv': no such file"#)
    }

    @Test func badOutputPathIsAUsageErrorAndWritesNothing() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/occupied"
        _ = FileManager.default.createFile(atPath: file, contents: Data("keep".utf8))
        let run = ToolRun(["--outer-steps", "3", "--output", file + "/results"])
        #expect(run.status == .usage)
        #expect(run.stderr.lines.first == "nhgd: error: bad '--output': output path '\(file)' exists and is not a directory")
        #expect(run.runner.configurations.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["occupied"])
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep")
    }

    /// Locations the files could not be written to were found after the whole run (exit 1); they
    /// are bad command lines, refused before it, and nothing is touched.
    @Test func unusableOutputLocationsAreRefusedBeforeTheRun() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/file", contents: Data("keep".utf8))
        try FileManager.default.createSymbolicLink(atPath: dir + "/dangling", withDestinationPath: "nowhere")
        try FileManager.default.createDirectory(atPath: dir + "/D/plot.svg/x", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/D/trace.csv", contents: Data("old".utf8))
        var cases: [(String, String)] = [
            (dir + "/file/", "output path '\(dir)/file' exists and is not a directory"),
            (dir + "/dangling", "output path '\(dir)/dangling' is a symbolic link to 'nowhere', which does not exist"),
            (dir + "/D", "output file '\(dir)/D/plot.svg' exists and is a directory"),
        ]
        if FileManager.default.fileExists(atPath: "/proc/self") {
            cases.append(("/proc/foo", "cannot create files in '/proc': "))
        }
        for (path, message) in cases {
            let run = ToolRun(["regularize", "--outer-steps", "2", "--output", path])
            #expect(run.status == .usage, "\(path)")
            #expect(run.stderr.lines.first?.hasPrefix("nhgd: error: bad '--output': " + message) == true, "\(run.stderr.lines)")
            #expect(run.stderr.lines.count == 3)
            #expect(run.runner.configurations.isEmpty, "\(path): the run started")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["D", "dangling", "file"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/D").sorted() == ["plot.svg", "trace.csv"])
        #expect(try String(contentsOfFile: dir + "/D/trace.csv", encoding: .utf8) == "old")
    }

    @Test func cleanPrintsProgressTableAndFinalJSON() throws {
        let run = ToolRun(["clean", "--outer-steps", "4", "--estimator", "cg", "--seed", "7"])
        #expect(run.status == .success)
        #expect(run.stderr.text.isEmpty)
        let lines = run.stdout.lines
        // Elapsed ÷ iterations × iterations left: 0.5 s per iteration.
        #expect(lines.prefix(5) == [
            "[cg] iter 1/4  elapsed 500 ms  left ~1.50 s  outer loss 0.66667  val acc 51.0%  test acc 50.0%  oracle calls 101",
            "[cg] iter 2/4  elapsed 1.00 s  left ~1.00 s  outer loss 0.5  val acc 52.0%  test acc 51.0%  oracle calls 202",
            "[cg] iter 3/4  elapsed 1.50 s  left ~500 ms  outer loss 0.4  val acc 53.0%  test acc 52.0%  oracle calls 303",
            "[cg] iter 4/4  elapsed 2.00 s  left ~0 s  outer loss 0.33333  val acc 54.0%  test acc 53.0%  oracle calls 404",
            "[cg] training the four reference models (corrupted, oracle, oracle unchanged, cleaned)",
        ])
        #expect(run.stdout.text.contains("estimator  iterations  seconds  outer loss  val acc  test acc  oracle calls"))
        #expect(run.stdout.text.contains("gap closed"))
        let json = try run.finalJSON()
        guard case let .object(pairs) = json else { Issue.record("not an object"); return }
        #expect(pairs.map(\.0) == ["command", "estimator", "corrupted_accuracy", "oracle_accuracy", "cleaned_accuracy", "gap_closed",
                                   "auroc", "final_outer_loss", "iterations", "oracle_calls", "seconds", "total_seconds", "output"])
        #expect(json["command"] == .string("clean"))
        #expect(json["estimator"] == .string("cg"))
        // (0.85 − 0.70) / (0.90 − 0.70) = 0.75.
        let gap = try #require(json["gap_closed"]?.doubleValue)
        #expect(abs(gap - 0.75) < 1e-12)
        // `seconds` is the optimisation's own clock (the trace); `total_seconds` the whole run.
        #expect(json["seconds"] == .number(2.0))
        #expect(json["total_seconds"] == .number(2.5))
        #expect(json["iterations"] == .integer(4))
        #expect(json["oracle_calls"] == .integer(404))
        #expect(json["output"] == .null)
        let configuration = try #require(run.runner.configurations.first)
        #expect(configuration == RunConfiguration(task: .clean(noise: 0.5), estimator: .cg, outerSteps: 4, seed: 7,
                                                  threads: configuration.threads, split: .standard))
    }

    @Test func quietPrintsOnlyTheJSONLine() throws {
        let run = ToolRun(["--quiet", "--outer-steps", "3"])
        #expect(run.status == .success)
        #expect(run.stdout.lines.count == 1)
        #expect(try run.finalJSON()["cleaned_accuracy"] == .number(0.85))
        #expect(run.stderr.text.isEmpty)
    }

    @Test func everyOptionReachesTheConfiguration() throws {
        let run = ToolRun(["regularize", "--pair", "3,8", "--estimator=neumann", "--rank", "7", "--damping", "0.25",
                           "--forgetting", "0.2", "--sketch-columns", "0", "--inner-steps", "11", "--batch-size", "33", "--outer-steps", "2",
                           "--inner-lr", "0.3", "--outer-lr", "0.04", "--seed", "99", "--threads", "1",
                           "--train", "500", "--quiet"])
        #expect(run.status == .success)
        let c = try #require(run.runner.configurations.first)
        #expect(c == RunConfiguration(task: .regularize(pair: DigitPair(first: 3, second: 8)), estimator: .neumann, rank: 7,
                                      damping: 0.25, forgetting: 0.2, sketchColumns: nil, pcgSteps: 1, pcgBatchSize: nil, innerSteps: 11, batchSize: 33, outerSteps: 2,
                                      innerLearningRate: 0.3, outerLearningRate: 0.04, seed: 99, threads: 1,
                                      split: SplitRequest(training: 500)))
        // Without sizes, regularize leaves the split to the data set.
        let plain = ToolRun(["regularize", "--outer-steps", "1", "--quiet"])
        #expect(plain.runner.configurations.first?.split == SplitRequest())
        #expect(plain.runner.configurations.first?.task == .regularize(pair: nil))
        let json = try plain.finalJSON()
        #expect(json["command"] == .string("regularize"))
        #expect(json["gap_closed"] == nil)
    }

    /// `compare` takes the defaults of the task it runs (the table in Docs/cli.md); an explicit
    /// option still wins.
    @Test func compareUsesTheDefaultsOfItsTask() throws {
        typealias Defaults = (rank: Int, forgetting: Double, innerSteps: Int, outerSteps: Int, learningRate: Double)
        let cases: [(String, Defaults)] = [("clean", (64, 0.03, 50, 80, 0.5)), ("regularize", (16, 0.1, 50, 30, 0.1))]
        for (task, d) in cases {
            let run = ToolRun(["compare", "--task", task, "--estimators", "nhgd,cg", "--quiet", "--batch-size", "70"])
            #expect(run.status == ToolExitStatus.success, "\(task): \(run.stderr.text)")
            #expect(run.runner.configurations.count == 2)
            for c in run.runner.configurations {
                #expect(c.rank == d.rank, "\(task)")
                #expect(c.damping == 1e-3 && c.sketchColumns == 8, "\(task)")
                #expect(c.forgetting == d.forgetting, "\(task)")
                #expect(c.innerSteps == d.innerSteps && c.outerSteps == d.outerSteps, "\(task)")
                #expect(c.innerLearningRate == d.learningRate && c.outerLearningRate == d.learningRate, "\(task)")
                #expect(c.batchSize == 70, "\(task)")
            }
        }
    }

    /// `--model mlp` takes the network's defaults (Docs/cli.md) and `--hidden`; the options
    /// that do not apply are usage errors naming both options.
    @Test func modelAndHiddenReachTheConfiguration() throws {
        let run = ToolRun(["clean", "--model", "mlp", "--hidden", "64", "--quiet"])
        #expect(run.status == .success, "\(run.stderr.text)")
        let c = try #require(run.runner.configurations.first)
        #expect(c.model == .mlp(hiddenWidth: 64))
        #expect(c.estimator == .nhgdPCG)  // the network's default estimator
        let n = TaskDefaults.networkCleaning
        #expect(c.rank == n.rank && c.sketchInterval == n.sketchInterval && c.outerSteps == n.outerSteps
                && c.pcgBatchSize == n.pcgBatch && c.innerLearningRate == n.innerLearningRate)
        #expect(try #require(ToolRun(["clean", "--model", "mlp", "--quiet"]).runner.configurations.first).model
                == .mlp(hiddenWidth: 512))
        let linear = try #require(ToolRun(["clean", "--quiet"]).runner.configurations.first)
        #expect(linear.model == .linear && linear.rank == TaskDefaults.cleaning.rank && linear.estimator == .nhgd)
        #expect(try #require(ToolRun(["clean", "--model", "mlp", "--estimator", "cg", "--quiet"]).runner.configurations.first)
                .estimator == .cg)
        // compare: the network's defaults too, and an explicit option still wins.
        let compare = ToolRun(["compare", "--model", "mlp", "--estimators", "nhgd,cg", "--rank", "5", "--quiet"])
        #expect(compare.runner.configurations.allSatisfy {
            $0.model == .mlp(hiddenWidth: 512) && $0.rank == 5 && $0.outerSteps == n.outerSteps })
        for arguments in [["clean", "--hidden", "8"], ["compare", "--task", "regularize", "--model", "mlp"],
                          ["compare", "--task", "regularize", "--hidden", "8"]] {
            let bad = ToolRun(arguments)
            #expect(bad.status == .usage, "\(arguments)")
            #expect(bad.stderr.lines.first?.contains("cannot be used with") == true, "\(arguments): \(bad.stderr.text)")
            #expect(bad.runner.configurations.isEmpty && bad.stdout.text.isEmpty)
        }
        #expect(ToolRun(["regularize", "--model", "mlp"]).status == .usage)  // not an option of regularize
    }

    @Test func remainingTimeIsThePaceSoFar() {
        func record(_ i: Int, _ seconds: Double) -> TraceRecord {
            TraceRecord(estimator: "nhgd", iteration: i, seconds: seconds, outerLoss: 1, hypergradientNorm: 1,
                        oracleCalls: OracleCounts(), metrics: [:])
        }
        #expect(NHGDTool.remainingSeconds(record(4, 2), of: 10) == 3)
        #expect(NHGDTool.remainingSeconds(record(10, 7), of: 10) == 0)
        #expect(NHGDTool.remainingSeconds(record(0, 0), of: 10) == 0)
    }

    /// The default of 8 sketch columns compresses only batches larger than 8; an explicit
    /// value up to the batch size is taken as given.
    @Test func sketchColumnsStayWithinTheBatch() throws {
        let cases: [([String], Int?)] = [
            (["--batch-size", "9"], 8), (["--batch-size", "8"], nil), (["--batch-size", "3"], nil),
            (["--batch-size", "8", "--sketch-columns", "8"], 8), (["--batch-size", "5", "--sketch-columns", "2"], 2),
            (["--batch-size", "3", "--sketch-columns", "0"], nil),
        ]
        for command in [["clean"], ["regularize"], ["compare", "--estimators", "nhgd"]] {
            for (options, columns) in cases {
                let run = ToolRun(command + options + ["--outer-steps", "1", "--quiet"])
                #expect(run.status == .success, "\(command + options): \(run.stderr.text)")
                #expect(run.runner.configurations.first?.sketchColumns == columns, "\(command + options)")
            }
        }
    }

    @Test func userDataFileIsPassedOn() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/data.csv"
        try "1,2,0\n3,4,1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let run = ToolRun(["--data", file, "--quiet", "--outer-steps", "1"])
        #expect(run.status == .success)
        #expect(run.runner.configurations.first?.dataFile == file)
    }

    @Test func outputDirectoryGetsTraceAndPlot() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/run1"
        let run = ToolRun(["clean", "--outer-steps", "5", "--output", target])
        #expect(run.status == .success)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).sorted() == ["plot.svg", "trace.csv", "trace.json"])
        #expect(try run.finalJSON()["output"] == .string(target))

        let rows = try parseCSV(try String(contentsOfFile: target + "/trace.csv", encoding: .utf8))
        #expect(rows.count == 6)
        #expect(rows[0].prefix(4) == ["estimator", "iteration", "seconds", "outer_loss"])
        #expect(rows[0].suffix(2) == ["validation_accuracy", "test_accuracy"])
        #expect(rows[1].prefix(4) == ["nhgd", "1", "0.5", "\(ScriptedRunner.loss(.nhgd, 1))"])

        let document = try JSONValue(parsing: try String(contentsOfFile: target + "/trace.json", encoding: .utf8))
        guard case let .array(trace)? = document["trace"] else { Issue.record("no trace array"); return }
        #expect(trace.count == 5)
        #expect(trace[4]["outer_loss"]?.doubleValue == ScriptedRunner.loss(.nhgd, 5))
        #expect(document["configuration"]?["outer_steps"] == .integer(5))
        #expect(document["summary"]?["cleaned_accuracy"] == .number(0.85))

        let svg = try String(contentsOfFile: target + "/plot.svg", encoding: .utf8)
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "plot.svg is not well-formed: \(String(describing: parser.parserError))")
        for text in ["time (s)", "test accuracy", "outer loss f(x, y)", ">nhgd<"] { #expect(svg.contains(text), "\(text)") }
    }

    @Test func runnerFailureExits1AndLeavesNoFiles() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = ToolRun(["--output", dir + "/out", "--outer-steps", "2"], runner: ScriptedRunner(failing: [.nhgd]))
        #expect(run.status == .failure)
        #expect(run.stderr.lines == ["nhgd: error: scripted failure: second line"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func cleanWithoutCleaningResultsIsAFailure() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = ToolRun(["--output", dir + "/out", "--outer-steps", "2"],
                          runner: ScriptedRunner(results: [RunResult("cleaned_accuracy", 0.8)]))
        #expect(run.status == .failure)
        #expect(run.stderr.lines == ["nhgd: error: the run did not report corrupted_accuracy, oracle_accuracy, auroc"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func compareRunsEachEstimatorAndTimesTheTarget() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = ToolRun(["compare", "--estimators", "nhgd,cg,exact", "--target-loss", "0.5", "--outer-steps", "4",
                           "--output", dir], runner: ScriptedRunner(failing: [.exact]))
        #expect(run.status == .success)
        #expect(run.runner.configurations.map(\.estimator) == [.nhgd, .cg, .exact])
        #expect(run.stderr.lines == ["nhgd: warning: exact failed: scripted failure: second line"])
        let json = try run.finalJSON()
        #expect(json["command"] == .string("compare"))
        #expect(json["target_loss"] == .number(0.5))
        guard case let .array(results)? = json["results"] else { Issue.record("no results"); return }
        #expect(results.count == 3)
        // loss(nhgd, i) = 1/(1+i) reaches 0.5 at i = 1; loss(cg, i) = 1/(1+i/2) at i = 2.
        #expect(results[0]["iterations_to_target"] == .integer(1))
        #expect(results[0]["seconds_to_target"] == .number(0.5))
        #expect(results[1]["iterations_to_target"] == .integer(2))
        #expect(results[1]["seconds_to_target"] == .number(1))
        #expect(results[2]["error"] == .string("scripted failure:\nsecond line"))
        #expect(run.stdout.text.contains("failed"))
        let svg = try String(contentsOfFile: dir + "/plot.svg", encoding: .utf8)
        #expect(svg.contains(">nhgd<") && svg.contains(">cg<") && !svg.contains(">exact<"))
        let rows = try parseCSV(try String(contentsOfFile: dir + "/trace.csv", encoding: .utf8))
        #expect(rows.dropFirst().map { $0[0] } == ["nhgd", "nhgd", "nhgd", "nhgd", "cg", "cg", "cg", "cg"])
    }

    @Test func compareFailsWhenEveryEstimatorFails() {
        let run = ToolRun(["compare", "--estimators", "cg,neumann", "--outer-steps", "1"],
                          runner: ScriptedRunner(failing: [.cg, .neumann]))
        #expect(run.status == .failure)
        // One line, no warnings before it (there were four lines: a warning each, then the error).
        #expect(run.stderr.lines == ["nhgd: error: every estimator failed: cg: scripted failure: second line; "
                                     + "neumann: scripted failure: second line"])
        #expect(!run.stdout.text.contains("{"))
    }
}
