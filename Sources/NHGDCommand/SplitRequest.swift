/// What `--train`, `--validation` and `--test` asked for: each part either given or left to
/// the default of the data set the run splits.
///
/// A command line may give any of the three sizes; the others are not known until the runner
/// knows which data it splits (breast cancer, an MNIST pair, MNIST-5k or the user's file, whose
/// size is only known once it is read). ``resolved(for:)`` fills them in from that data's own
/// default split (``SplitData``) and checks that the whole fits, so that
/// `nhgd regularize --train 100` takes breast cancer's thirds for validation and test (189 and
/// 191), not hyper-cleaning's 1000 and 2000.
public struct SplitRequest: Equatable, Sendable {
    public var training: Int?
    public var validation: Int?
    public var test: Int?

    /// `nil` parts take the default of the data set (see ``resolved(for:)``).
    public init(training: Int? = nil, validation: Int? = nil, test: Int? = nil) {
        self.training = training
        self.validation = validation
        self.test = test
    }

    /// Every part given.
    public init(_ sizes: SplitSizes) {
        self.init(training: sizes.training, validation: sizes.validation, test: sizes.test)
    }

    /// 2000 / 1000 / 2000, every part given (``SplitSizes/standard``).
    public static let standard = SplitRequest(.standard)

    /// The split of `data`: each part not given takes its part of `data.defaults`.
    /// - Throws: ``SplitSizeError`` when the parts add up to more than `data.sampleCount` (the
    ///   sum is formed with overflow-reporting arithmetic, so `--train 9223372036854775807` is
    ///   one of those), or when training or validation would get no sample (a default third of
    ///   a data set of fewer than three samples). Sizes the command line gave are at least 1
    ///   (the parser checks); a default test part of 0 is allowed.
    public func resolved(for data: SplitData) throws(SplitSizeError) -> SplitSizes {
        let sizes = SplitSizes(training: training ?? data.defaults.training,
                               validation: validation ?? data.defaults.validation,
                               test: test ?? data.defaults.test)
        let (partial, overflow1) = sizes.training.addingReportingOverflow(sizes.validation)
        let (total, overflow2) = partial.addingReportingOverflow(sizes.test)
        guard !overflow1, !overflow2, total <= data.sampleCount, sizes.training >= 1, sizes.validation >= 1,
              sizes.test >= 0 else {
            throw SplitSizeError(sizes: sizes, data: data)
        }
        return sizes
    }
}

/// The data set a run splits, as far as its split is concerned: what to call it in messages,
/// how many samples it has, and the split it takes when the command line gives no sizes.
public struct SplitData: Equatable, Sendable {
    /// Where the samples come from.
    public enum Source: Equatable, Sendable {
        /// A data set shipped in the package, by the name messages use ("MNIST-5k").
        case builtIn(String)
        /// The user's `--data` file, by its path.
        case file(String)
    }

    public var source: Source
    public var sampleCount: Int
    public var defaults: SplitSizes

    public init(source: Source, sampleCount: Int, defaults: SplitSizes) {
        self.source = source
        self.sampleCount = sampleCount
        self.defaults = defaults
    }

    /// MNIST-5k for `clean`: 5,000 samples, 2000 / 1000 / 2000 (the sizes of the shipped file
    /// are checked against it by a test).
    public static let mnist5k = SplitData(source: .builtIn("MNIST-5k"), sampleCount: 5000, defaults: .standard)

    /// Breast cancer for `regularize`: 569 samples, a third each (189 / 189 / 191).
    public static let breastCancer = SplitData(source: .builtIn("breast cancer"), sampleCount: 569,
                                               defaults: .thirds(of: 569))

    /// Two MNIST-5k digits for `regularize --pair`: 500 samples of each, 300 / 300 / 400.
    public static func mnistPair(_ pair: DigitPair) -> SplitData {
        SplitData(source: .builtIn("MNIST \(pair.first) vs \(pair.second)"), sampleCount: 1000,
                  defaults: SplitSizes(training: 300, validation: 300, test: 400))
    }

    /// The user's file of `sampleCount` samples: `clean` takes its declared 2000 / 1000 / 2000
    /// (`nhgd clean --help`), `regularize` a third each.
    public static func file(_ path: String, sampleCount: Int, task: ExperimentTask) -> SplitData {
        switch task {
        case .clean: return SplitData(source: .file(path), sampleCount: sampleCount, defaults: .standard)
        case .regularize: return SplitData(source: .file(path), sampleCount: sampleCount, defaults: .thirds(of: sampleCount))
        }
    }
}

extension SplitSizes {
    /// A third each for training and validation (rounded down), the rest for test.
    public static func thirds(of n: Int) -> SplitSizes {
        let third = n / 3
        return SplitSizes(training: third, validation: third, test: n - 2 * third)
    }
}

/// A split that does not fit its data set: a bad command line, reported with the usage and
/// status 2 before anything runs. Names the sizes, the options and the data, e.g.
/// `split sizes 400 + 189 + 191 (--train, --validation, --test) add up to 780, more than the
/// 569 samples of breast cancer`.
public struct SplitSizeError: RunnerUsageError, Equatable {
    public var sizes: SplitSizes
    public var data: SplitData

    public init(sizes: SplitSizes, data: SplitData) {
        self.sizes = sizes
        self.data = data
    }

    public var description: String {
        let parts = "split sizes \(sizes.training) + \(sizes.validation) + \(sizes.test) (--train, --validation, --test)"
        let (partial, overflow1) = sizes.training.addingReportingOverflow(sizes.validation)
        let (total, overflow2) = partial.addingReportingOverflow(sizes.test)
        let sum = overflow1 || overflow2 ? "add up to more" : "add up to \(total), more"
        switch data.source {
        case let .builtIn(name):
            return "\(parts) \(sum) than the \(data.sampleCount) samples of \(name)"
        case let .file(path):
            // Worded like every other unusable --data file (see UnusableInputError).
            let problem = sizes.training < 1 || sizes.validation < 1
                ? "leave no training or validation sample of its \(data.sampleCount)"
                : "\(sum) than its \(data.sampleCount) samples"
            return "bad '--data' file '\(path)': \(parts) \(problem)"
        }
    }
}
