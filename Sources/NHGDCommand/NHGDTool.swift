import Foundation
import NHGDReporting

/// The process exit status of `nhgd`.
public enum ToolExitStatus: Int32, Sendable {
    /// The run finished (for `compare`: at least one estimator finished).
    case success = 0
    /// The run failed after the command line was accepted (numerical or I/O failure).
    case failure = 1
    /// The command line was wrong: an unknown or duplicate option, a bad value, a missing file,
    /// an unusable `--resume` checkpoint.
    case usage = 2
    /// SIGINT stopped the run after an outer iteration (128 + 2).
    case interrupted = 130
    /// SIGTERM stopped the run after an outer iteration (128 + 15).
    case terminated = 143
}

/// The `nhgd` command-line tool, with its streams, clock and numerics injected so that
/// every path can be tested in-process.
///
/// Behaviour:
/// - a bad command line prints one line saying what is wrong and then the usage line to
///   standard error, writes nothing, and returns ``ToolExitStatus/usage``; so does what only
///   the runner can check (``RunnerUsageError``: a `--data` file it cannot use, a split that
///   does not fit the data);
/// - `--help` prints the help of the chosen command and returns success;
/// - otherwise a progress line per outer iteration and a summary table go to standard
///   output (not with `--quiet`), and the last line is always one JSON object with the
///   results; `--output DIR` writes trace.csv, trace.json and plot.svg, all or none and
///   all at once (``OutputDirectory``), and is checked before the run: a location the files
///   could not be written to is a bad command line.
public struct NHGDTool: Sendable {
    public var runner: any ExperimentRunner
    public var standardOutput: any TextSink
    public var standardError: any TextSink
    /// Monotonic seconds, for the `seconds` result.
    public var clock: @Sendable () -> Double

    public init(runner: any ExperimentRunner, standardOutput: any TextSink = StandardStream.output,
                standardError: any TextSink = StandardStream.error,
                clock: @escaping @Sendable () -> Double = NHGDTool.monotonicSeconds) {
        self.runner = runner
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.clock = clock
    }

    /// Seconds since boot (monotonic).
    @Sendable public static func monotonicSeconds() -> Double {
        ProcessInfo.processInfo.systemUptime
    }

    private var parser: ArgumentParser { NHGDCommandLine.parser }

    /// Runs the tool on `arguments` (without the program name).
    ///
    /// Output that could not be written changes the status: a run that would have succeeded
    /// but whose standard output failed (a full disk, a closed descriptor, a pipe whose reader
    /// has gone with SIGPIPE ignored) prints `nhgd: error: cannot write standard output: …` on
    /// standard error and returns ``ToolExitStatus/failure``, since its results were lost; one
    /// whose standard error failed returns ``ToolExitStatus/failure`` too (a warning was
    /// lost). A bad command line keeps ``ToolExitStatus/usage`` and a failed run
    /// ``ToolExitStatus/failure`` whatever became of their message. The run itself is not cut
    /// short: `--output` files do not depend on the streams and are still written.
    public func run(_ arguments: [String]) -> ToolExitStatus {
        let status = runCommand(arguments)
        guard status == .success else { return status }
        if let failure = standardOutput.failure {
            standardError.write("nhgd: error: \(failure)\n")
            return .failure
        }
        return standardError.failure == nil ? .success : .failure
    }

    private func runCommand(_ arguments: [String]) -> ToolExitStatus {
        let parsed: ParsedArguments
        do {
            parsed = try parser.parse(arguments)
        } catch {
            return usageError(error.description, path: error.commandPath)
        }
        if parsed.helpRequested {
            standardOutput.write(parser.helpText(for: parsed.commandPath))
            return .success
        }
        let path = parsed.commandPath

        // Everything that can be checked before running is checked here, so a bad
        // command line costs nothing and leaves nothing behind.
        let estimators: [EstimatorName]
        if parsed.command == "compare" {
            let names = parsed.strings("estimators")!
            guard Set(names).count == names.count else {
                return usageError(ArgumentError(.invalidValue(option: "--estimators", value: names.joined(separator: ","),
                                                              expected: "each estimator at most once"), commandPath: path).description, path: path)
            }
            estimators = names.map { EstimatorName(rawValue: $0)! }
        } else {
            estimators = [NHGDCommandLine.estimator(parsed)]
        }
        let configurations: [RunConfiguration]
        do {
            configurations = try estimators.map { (name) throws(ArgumentError) in try RunConfiguration(parsed, estimator: name) }
        } catch {
            return usageError(error.description, path: path)
        }
        if let file = parsed.string("data") {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) {
                return usageError("cannot read '--data' file '\(file)': no such file", path: path)
            }
            if isDirectory.boolValue || !FileManager.default.isReadableFile(atPath: file) {
                return usageError("cannot read '--data' file '\(file)': \(isDirectory.boolValue ? "it is a directory" : "permission denied")", path: path)
            }
        }
        var output: OutputDirectory?
        if let directory = parsed.string("output") {
            do {
                output = try OutputDirectory(path: directory, fileNames: Self.outputFileNames)
            } catch {
                return usageError("bad '--output': \(error.description)", path: path)
            }
        }
        if let file = parsed.string("checkpoint"), let problem = Self.checkpointLocationProblem(file) {
            return usageError("bad '--checkpoint': \(problem)", path: path)
        }
        if let file = parsed.string("resume") {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) || isDirectory.boolValue
                || !FileManager.default.isReadableFile(atPath: file) {
                let reason = !FileManager.default.fileExists(atPath: file) ? "no such file"
                    : isDirectory.boolValue ? "it is a directory" : "permission denied"
                standardError.write("nhgd: error: \(CheckpointRejection(path: file, reason: reason).description.escapingControlCharacters)\n")
                return .usage
            }
        }
        let quiet = parsed.flag("quiet")
        do {
            for configuration in configurations { try runner.check(configuration) }
        } catch let error as any RunnerUsageError {
            return usageError(error.description, path: path)
        } catch {
            standardError.write("nhgd: error: \(describe(error))\n")
            return .failure
        }

        // Run: SIGINT and SIGTERM stop it after the current outer iteration (and its checkpoint).
        let start = clock()
        var outcomes: [(estimator: EstimatorName, outcome: Result<RunOutcome, any Error>)] = []
        let stopped: ToolExitStatus? = StopSignals.catching {
            for configuration in configurations {
                do {
                    let outcome = try runner.run(configuration) { record in
                        guard !quiet else { return }
                        standardOutput.write(progressLine(record, of: configuration.outerSteps) + "\n")
                        if case .clean = configuration.task, record.iteration == configuration.outerSteps {
                            standardOutput.write("[\(record.estimator)] training the four reference models (corrupted, oracle, oracle unchanged, cleaned)\n")
                        }
                    }
                    outcomes.append((configuration.estimator, .success(outcome)))
                } catch let interruption as RunInterruption {
                    standardError.write(resumeLine(interruption, arguments: arguments).escapingControlCharacters + "\n")
                    return interruption.signal == SIGTERM ? .terminated : .interrupted
                } catch let rejection as CheckpointRejection {
                    standardError.write("nhgd: error: \(rejection.description.escapingControlCharacters)\n")
                    return .usage
                } catch let error as any RunnerUsageError {
                    return usageError(error.description, path: path)
                } catch {
                    if configurations.count == 1 {
                        standardError.write("nhgd: error: \(describe(error))\n")
                        return .failure
                    }
                    outcomes.append((configuration.estimator, .failure(error)))
                }
            }
            return nil
        }
        if let stopped { return stopped }
        let seconds = clock() - start
        // `compare`: a warning per failed estimator when others succeeded; when none did, the
        // run failed, and that is one error line naming each estimator's reason.
        let failures = outcomes.compactMap { entry -> (estimator: String, reason: String)? in
            guard case let .failure(error) = entry.outcome else { return nil }
            return (entry.estimator.rawValue, describe(error))
        }
        guard failures.count < outcomes.count else {
            let reasons = failures.map { "\($0.estimator): \($0.reason)" }.joined(separator: "; ")
            standardError.write("nhgd: error: every estimator failed: \(reasons)\n")
            return .failure
        }
        for failure in failures { standardError.write("nhgd: warning: \(failure.estimator) failed: \(failure.reason)\n") }

        // Summarise.
        let summary: JSONValue
        let tables: [TextTable]
        do {
            (summary, tables) = try RunSummary.make(command: parsed.command, configuration: configurations[0],
                                                    targetLoss: parsed.command == "compare" ? parsed.real("target-loss") : nil,
                                                    outcomes: outcomes, seconds: seconds, outputDirectory: output?.path)
        } catch {
            standardError.write("nhgd: error: \(describe(error))\n")
            return .failure
        }
        let trace = outcomes.flatMap { (try? $0.outcome.get())?.trace ?? [] }

        if var output {
            let title: String
            switch configurations[0].task {
            case let .clean(noise): title = "Data hyper-cleaning, \(Int((noise * 100).rounded()))% corrupted labels"
            case let .regularize(pair): title = "Per-feature L2 regularisation, " + (pair.map { "MNIST \($0.first) vs \($0.second)" } ?? "breast cancer")
            }
            let document = JSONValue.object([
                ("command", .string(parsed.command)),
                ("configuration", configurations[0].json),
                ("summary", summary),
                ("trace", TraceReport.json(trace)),
            ])
            do {
                try output.stage("trace.csv", TraceReport.csv(trace))
                try output.stage("trace.json", document.serialized(pretty: true) + "\n")
                try output.stage("plot.svg", TraceReport.plot(trace, title: title).render())
                try output.commit()
            } catch {
                standardError.write("nhgd: error: \(error.description.escapingControlCharacters)\n")
                return .failure
            }
        }
        if !quiet {
            for table in tables { standardOutput.write("\n" + table.render()) }
            standardOutput.write("\n")
        }
        standardOutput.write(summary.serialized() + "\n")
        return .success
    }

    /// The one line of a stopped run: the signal, the iterations done, and how to resume (the
    /// same command line with `--resume FILE`), or that no checkpoint was asked for.
    func resumeLine(_ stop: RunInterruption, arguments: [String]) -> String {
        let head = "nhgd: stopped by \(StopSignals.name(of: stop.signal)) after outer iteration "
            + "\(stop.completedIterations) of \(stop.totalIterations)"
        guard let file = stop.checkpointFile else {
            return head + "; no checkpoint was written (rerun with --checkpoint FILE to be able to resume)"
        }
        var kept: [String] = []
        var skipNext = false
        for argument in arguments {
            if skipNext { skipNext = false; continue }
            if argument == "--resume" { skipNext = true; continue }
            if argument.hasPrefix("--resume=") { continue }
            kept.append(argument)
        }
        let command = (["nhgd"] + kept + ["--resume", file]).map(Self.shellQuoted).joined(separator: " ")
        return head + "; resume with: " + command
    }

    /// `word` as a POSIX shell word: unchanged when it is safe, single-quoted otherwise.
    static func shellQuoted(_ word: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+%@")
        if !word.isEmpty, word.allSatisfy(safe.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Why checkpoints could not be written to `file` (checked before the run), or `nil`: it
    /// must not be a directory, and its directory must exist and be writable (the atomic write
    /// creates a temporary beside it).
    static func checkpointLocationProblem(_ file: String) -> String? {
        var isDirectory: ObjCBool = false
        if file.hasSuffix("/") || (FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) && isDirectory.boolValue) {
            return "'\(file)' is a directory"
        }
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "directory '\(directory)' does not exist"
        }
        guard access(directory, W_OK) == 0 else { return "cannot create files in '\(directory)'" }
        return nil
    }

    /// What `--output DIR` holds after a run, all three from the same run.
    public static let outputFileNames = ["trace.csv", "trace.json", "plot.svg"]

    /// One line per outer iteration:
    /// `[nhgd] iter  3/30  elapsed 1.23 s  left ~10.7 s  outer loss 0.4123  val acc 91.2%  test acc 90.8%  oracle calls 12345`.
    public func progressLine(_ record: TraceRecord, of total: Int) -> String {
        let width = String(total).count
        let iteration = String(repeating: " ", count: max(0, width - String(record.iteration).count)) + String(record.iteration)
        var parts = ["[\(record.estimator)] iter \(iteration)/\(total)",
                     "elapsed \(NumberFormatting.duration(record.seconds))",
                     "left ~\(NumberFormatting.duration(Self.remainingSeconds(record, of: total)))",
                     "outer loss \(NumberFormatting.significant(record.outerLoss, digits: 5))"]
        if let v = record.metrics["validation_accuracy"] { parts.append("val acc \(NumberFormatting.percent(v))") }
        if let t = record.metrics["test_accuracy"] { parts.append("test acc \(NumberFormatting.percent(t))") }
        parts.append("oracle calls \(record.oracleCalls.total)")
        return parts.joined(separator: "  ")
    }

    /// The time the run still needs at the pace so far: elapsed ÷ iterations done × iterations
    /// left (the outer iterations of one estimator cost about the same).
    public static func remainingSeconds(_ record: TraceRecord, of total: Int) -> Double {
        guard record.iteration > 0 else { return 0 }
        return record.seconds / Double(record.iteration) * Double(max(0, total - record.iteration))
    }

    /// The message is one line whatever it quotes (a path or value with a newline is escaped).
    private func usageError(_ message: String, path: [String]) -> ToolExitStatus {
        standardError.write("nhgd: error: \(message.escapingControlCharacters)\n\(parser.usage(for: path))\nSee '\(path.joined(separator: " ")) --help'.\n")
        return .usage
    }

    /// An error on one line: its lines joined by spaces, other control characters escaped.
    private func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.split(separator: "\n", omittingEmptySubsequences: true).joined(separator: " ").escapingControlCharacters
    }
}
