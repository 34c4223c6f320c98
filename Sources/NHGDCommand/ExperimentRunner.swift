import NHGDReporting

/// A named scalar result of a run, in the order it should be reported.
public struct RunResult: Equatable, Sendable {
    public var name: String
    public var value: Double

    public init(_ name: String, _ value: Double) {
        self.name = name
        self.value = value
    }
}

/// What a finished run hands back to the tool.
public struct RunOutcome: Equatable, Sendable {
    /// One record per outer iteration.
    public var trace: [TraceRecord]
    /// Task results, in report order. For `clean` the tool requires `corrupted_accuracy`
    /// (test accuracy of the model trained on the corrupted labels with uniform weights),
    /// `oracle_accuracy` (trained on the uncorrupted samples only), `cleaned_accuracy`
    /// (at the learned weights) and `auroc` (of the learned weights separating clean from
    /// corrupted samples); it adds `gap_closed` itself. Other tasks report what they have,
    /// e.g. `validation_accuracy`, `test_accuracy`.
    public var results: [RunResult]

    public init(trace: [TraceRecord], results: [RunResult]) {
        self.trace = trace
        self.results = results
    }

    public func result(_ name: String) -> Double? { results.first { $0.name == name }?.value }
}

/// The numerical side of the tool: runs one bilevel optimisation.
///
/// The tool parses and validates the command line, then calls ``run(_:progress:)`` once
/// per estimator (once for `clean`/`regularize`, once per `--estimators` entry for
/// `compare`), prints and writes what comes back. A conforming type builds the problem
/// for `configuration.task` (MNIST-5k, breast cancer, an MNIST pair, or the CSV in
/// `configuration.dataFile`), the estimator and the optimiser, and runs it.
public protocol ExperimentRunner: Sendable {
    /// Runs `configuration`, calling `progress` on the calling thread after every outer
    /// iteration with that iteration's record (cumulative time and oracle calls).
    /// - Throws: a ``RunnerUsageError`` for what the command line asked that the runner finds
    ///   impossible before it starts optimising: a file the user named that cannot be used
    ///   (``UnusableInputError``), a split that does not fit the data (``SplitSizeError``). The
    ///   tool treats it as a bad command line: one line, the usage, status 2. Any other error
    ///   is printed on one line, no files are written, and the tool exits with status 1.
    func run(_ configuration: RunConfiguration, progress: (TraceRecord) -> Void) throws -> RunOutcome

    /// Checks, before any run starts, what the command line asked that the runner can refuse
    /// without optimising: an estimator whose memory the problem's size rules out
    /// (``EstimatorMemoryError``). The tool calls it for every configuration of a command
    /// before the first run, so `compare` refuses at once rather than after other estimators
    /// ran. The default accepts everything.
    /// - Throws: a ``RunnerUsageError``.
    func check(_ configuration: RunConfiguration) throws
}

extension ExperimentRunner {
    public func check(_ configuration: RunConfiguration) throws {}
}

/// An estimator that would need more memory than it may use at this problem's size (the
/// exact hypergradient's dense p × p Hessian): refused before any work, as a bad command line.
public struct EstimatorMemoryError: RunnerUsageError, Equatable {
    public var estimator: EstimatorName
    /// What the memory is for, e.g. "a dense 407050 × 407050 Hessian".
    public var requirement: String
    public var bytesNeeded: Int
    public var bytesAllowed: Int

    public var description: String {
        "estimator '\(estimator.rawValue)' needs \(requirement), \(NumberFormatting.bytes(bytesNeeded)), "
            + "more than the \(NumberFormatting.bytes(bytesAllowed)) it may use; "
            + "nhgd, nhgd-pcg, cg, neumann, amigo, nystrom work with O(p) to O(p·k) memory"
    }
}

/// Something wrong with the command line that only the runner can see, because it depends on
/// the data (a `--data` file that does not parse, a split larger than the data set). The tool
/// reports it like any other bad command line: its ``description`` on one line, then the
/// usage, status 2, nothing on standard output and no files. A runner throws it before the
/// first outer iteration, so the check costs no optimisation.
public protocol RunnerUsageError: Error, CustomStringConvertible {}

/// A file named on the command line (`--data`) that cannot be used: unreadable, malformed, or
/// unsuited to the task (not two classes for `regularize`; a split it cannot hold is a
/// ``SplitSizeError``). Whether a CSV parses is only known once it is read, so a runner finds
/// this out, and the tool reports it like any other bad command line.
public struct UnusableInputError: RunnerUsageError, Equatable {
    /// The option that named the file, with its dashes (`--data`).
    public var option: String
    public var path: String
    /// What is wrong, in a few words.
    public var reason: String

    public var description: String { "bad '\(option)' file '\(path)': \(reason)" }
}

/// A runner made from a closure, for wiring and for tests.
public struct ClosureExperimentRunner: ExperimentRunner {
    public let body: @Sendable (RunConfiguration, (TraceRecord) -> Void) throws -> RunOutcome

    public init(_ body: @escaping @Sendable (RunConfiguration, (TraceRecord) -> Void) throws -> RunOutcome) {
        self.body = body
    }

    public func run(_ configuration: RunConfiguration, progress: (TraceRecord) -> Void) throws -> RunOutcome {
        try body(configuration, progress)
    }
}
