import NaturalHypergradient
import NHGDReporting

/// How NHGD compresses a block of per-sample gradients before its sketch ingests it.
public enum SketchCompression: String, Equatable, Sendable {
    /// `G Ω` with Gaussian `Ω` (b × s): every column contributes; one `gemm`.
    case gaussian
    /// s of the b columns, uniformly without replacement, scaled by √(b/s): a copy.
    case sampled
}

/// Which experiment to run.
public enum ExperimentTask: Equatable, Sendable {
    /// Data hyper-cleaning (ALGORITHMS.md §7): softmax regression with one weight per
    /// training sample on MNIST-5k (or `--data`), a `noise` fraction of training labels corrupted.
    case clean(noise: Double)
    /// Logistic regression with per-feature L2 (ALGORITHMS.md §7): breast cancer by default,
    /// the binary MNIST problem of two digits when `pair` is given, or `--data`.
    case regularize(pair: DigitPair?)

    /// `clean` or `regularize`.
    public var name: String {
        switch self {
        case .clean: return "clean"
        case .regularize: return "regularize"
        }
    }
}

/// The classifier `clean` trains on the weighted samples.
public enum CleaningModel: Equatable, Sendable {
    /// Softmax regression on the features and a bias (p = (d + 1)·K; 7,850 on MNIST).
    case linear
    /// A one-hidden-layer tanh network of `hiddenWidth` units with a softmax output
    /// (p = (d + 1)·h + (h + 1)·K; on MNIST 795h + 10: 407,050 for h = 512, 1,017,610 for h = 1280).
    case mlp(hiddenWidth: Int)

    /// `linear` or `mlp`.
    public var name: String {
        switch self {
        case .linear: "linear"
        case .mlp: "mlp"
        }
    }

    /// p, the inner dimension, for d features and K classes.
    public func parameterCount(featureCount d: Int, classCount k: Int) -> Int {
        switch self {
        case .linear: (d + 1) * k
        case .mlp(let h): TanhNetwork.parameterCount(featureCount: d, hiddenWidth: h, classCount: k)
        }
    }
}

/// Two distinct MNIST digits, `first` labelled 0 and `second` labelled 1.
public struct DigitPair: Equatable, Sendable {
    public var first: Int
    public var second: Int

    public init(first: Int, second: Int) {
        precondition(first != second && (0...9).contains(first) && (0...9).contains(second), "two different digits")
        self.first = first
        self.second = second
    }
}

/// Numbers of training, validation and test samples.
public struct SplitSizes: Equatable, Sendable {
    public var training: Int
    public var validation: Int
    public var test: Int

    public init(training: Int, validation: Int, test: Int) {
        self.training = training
        self.validation = validation
        self.test = test
    }

    /// The defaults for MNIST-5k: 2000 / 1000 / 2000.
    public static let standard = SplitSizes(training: 2000, validation: 1000, test: 2000)
}

/// Everything one run needs, validated: the task, the estimator and its hyperparameters,
/// the optimiser's schedule, the data and the seed. Built from the command line by
/// ``init(_:estimator:)``; the runner should not need to re-check ranges.
public struct RunConfiguration: Equatable, Sendable {
    public var task: ExperimentTask
    /// The classifier of `clean` (``CleaningModel/linear`` for `regularize`, which has its own).
    public var model: CleaningModel
    public var estimator: EstimatorName
    /// Rank ℓ of the Fisher sketch (NHGD).
    public var rank: Int
    /// Damping λ > 0 added to the sketched Fisher (NHGD).
    public var damping: Double
    /// Forgetting factor β ∈ [0, 1] of the streamed Fisher (NHGD).
    public var forgetting: Double
    /// Columns an unbiased Gaussian compression reduces each gradient block to before the
    /// sketch ingests it (NHGD); `nil`: no compression. From the command line it is at most
    /// ``batchSize`` (a larger value is a usage error), and the task's default applies only
    /// to batches larger than it.
    public var sketchColumns: Int?
    /// How blocks are compressed to ``sketchColumns`` columns.
    public var compression: SketchCompression
    /// Sketch columns on every k-th inner step (NHGD).
    public var sketchInterval: Int
    /// Empirical or sampled-label Fisher (NHGD).
    public var fisher: FisherLabels
    /// PCG steps per estimate (nhgd-pcg).
    public var pcgSteps: Int
    /// Samples per HVP of nhgd-pcg; `nil`: all training data.
    public var pcgBatchSize: Int?
    /// k and ρ of the Nyström estimator.
    public var nystromRank: Int, nystromShift: Double
    /// Inner SGD steps per outer iteration.
    public var innerSteps: Int
    /// Minibatch size of the inner loop and of stochastic estimators.
    public var batchSize: Int
    /// Outer iterations.
    public var outerSteps: Int
    public var innerLearningRate: Double
    public var outerLearningRate: Double
    public var seed: UInt64
    /// BLAS / worker threads.
    public var threads: Int
    /// Sample counts as given; a part not given takes the default of the data the task
    /// splits, which the runner fills in (``SplitRequest/resolved(for:)``).
    public var split: SplitRequest
    /// A user's CSV file (label in the last column) instead of the built-in data set.
    public var dataFile: String?
    /// `--checkpoint FILE`: the whole state is written there (atomically) after every outer
    /// iteration. Not part of ``json`` or ``checkpointIdentity``.
    public var checkpointFile: String?
    /// `--resume FILE`: the run continues from this checkpoint, which must have been written
    /// by the same configuration (``checkpointIdentity``).
    public var resumeFile: String?

    /// Defaults are those of `nhgd clean` (``TaskDefaults/cleaning``).
    public init(task: ExperimentTask, model: CleaningModel = .linear, estimator: EstimatorName, rank: Int = 64, damping: Double = 1e-3,
                forgetting: Double = 0.03, sketchColumns: Int? = 8, compression: SketchCompression = .gaussian,
                sketchInterval: Int = 1, fisher: FisherLabels = .empirical, pcgSteps: Int = 2, pcgBatchSize: Int? = 256,
                nystromRank: Int = 5, nystromShift: Double = 0.1,
                innerSteps: Int = 50, batchSize: Int = 64, outerSteps: Int = 80,
                innerLearningRate: Double = 0.5, outerLearningRate: Double = 0.5, seed: UInt64 = 0, threads: Int = 1,
                split: SplitRequest = .standard, dataFile: String? = nil) {
        self.task = task
        self.model = model
        self.estimator = estimator
        self.rank = rank
        self.damping = damping
        self.forgetting = forgetting
        self.sketchColumns = sketchColumns
        self.compression = compression
        self.sketchInterval = sketchInterval
        self.fisher = fisher
        self.pcgSteps = pcgSteps
        self.pcgBatchSize = pcgBatchSize
        self.nystromRank = nystromRank
        self.nystromShift = nystromShift
        self.innerSteps = innerSteps
        self.batchSize = batchSize
        self.outerSteps = outerSteps
        self.innerLearningRate = innerLearningRate
        self.outerLearningRate = outerLearningRate
        self.seed = seed
        self.threads = threads
        self.split = split
        self.dataFile = dataFile
    }

    /// The configuration `parsed` describes (a `clean`, `regularize` or `compare` command
    /// line; for `compare`, `estimator` chooses the one to run).
    /// - Throws: ``ArgumentError`` for combinations a single option cannot check: a `--pair`
    ///   of equal digits; `--pair` with `--task clean` or with `--data` (it chooses built-in data
    ///   the task or the file replaces), `--noise` with `--task regularize`; `--sketch-columns`
    ///   beyond `--batch-size` (see ``sketchColumns``); `--hidden` without `--model mlp`,
    ///   `--model` or `--hidden` with `--task regularize`.
    public init(_ parsed: ParsedArguments, estimator: EstimatorName) throws(ArgumentError) {
        let taskName = parsed.command == "compare" ? parsed.string("task")! : parsed.command
        func conflict(_ option: String, _ other: String, _ reason: String) -> ArgumentError {
            ArgumentError(.conflictingOptions(option, other, reason: reason), commandPath: parsed.commandPath)
        }
        switch taskName {
        case "clean":
            if parsed.isGiven("pair") {
                throw conflict("--pair", "--task clean", "it chooses the MNIST digits of regularize")
            }
            task = .clean(noise: parsed.real("noise")!)
            if parsed.string("model") == "mlp" {
                model = .mlp(hiddenWidth: parsed.integer("hidden")!)
            } else if parsed.isGiven("hidden") {
                throw conflict("--hidden", "--model linear", "it is the width of --model mlp")
            } else {
                model = .linear
            }
        default:
            model = .linear
            for option in ["model", "hidden"] where parsed.isGiven(option) {
                throw conflict("--\(option)", "--task regularize", "it chooses the classifier of clean")
            }
            if parsed.command == "compare", parsed.isGiven("noise") {
                throw conflict("--noise", "--task regularize", "it corrupts the labels of clean")
            }
            if parsed.isGiven("pair"), parsed.isGiven("data") {
                throw conflict("--pair", "--data", "the data set is the file")
            }
            if let pair = parsed.integers("pair") {
                guard pair[0] != pair[1] else {
                    throw ArgumentError(.invalidValue(option: "--pair", value: pair.map(String.init).joined(separator: ","),
                                                      expected: "two different digits"), commandPath: parsed.commandPath)
                }
                task = .regularize(pair: DigitPair(first: pair[0], second: pair[1]))
            } else {
                task = .regularize(pair: nil)
            }
        }
        self.estimator = estimator
        // `regularize` declares its defaults; `clean` and `compare` take the task's and model's.
        let d: TaskDefaults = taskName != "clean" ? .regularization : model == .linear ? .cleaning : .networkCleaning
        let preconditioner = estimator == .nhgdPCG
        rank = parsed.integer("rank") ?? (preconditioner ? d.pcgRank : d.rank)
        damping = parsed.real("damping") ?? d.damping
        forgetting = parsed.real("forgetting") ?? d.forgetting
        sketchInterval = parsed.integer("sketch-every") ?? (preconditioner ? d.pcgSketchInterval : d.sketchInterval)
        fisher = FisherLabels(rawValue: parsed.string("fisher")!)!
        pcgSteps = parsed.integer("pcg-steps") ?? d.pcgSteps
        let pcgBatch = parsed.integer("pcg-batch") ?? d.pcgBatch
        pcgBatchSize = pcgBatch > 0 ? pcgBatch : nil
        nystromRank = parsed.integer("nystrom-rank") ?? d.nystromRank
        nystromShift = parsed.real("nystrom-shift") ?? d.nystromShift
        innerSteps = parsed.integer("inner-steps") ?? d.innerSteps
        batchSize = parsed.integer("batch-size") ?? d.batchSize
        // A block of b per-sample gradients has rank at most b: s > b Gaussian combinations of
        // its columns span no more than the block, and s > b columns cannot be sampled from it,
        // so more columns than the batch only cost time and memory (the 1,000,000
        // columns took 39 s and 526 MB per outer iteration on a 31-dimensional problem).
        if parsed.isGiven("sketch-columns"), let columns = parsed.integer("sketch-columns"), columns > batchSize {
            throw ArgumentError(.invalidValue(option: "--sketch-columns", value: String(columns),
                                              expected: "at most --batch-size \(batchSize) (a block of \(batchSize) gradients has rank at most \(batchSize))"),
                                commandPath: parsed.commandPath)
        }
        // The task's default compresses only blocks larger than itself; a smaller batch goes
        // to the sketch whole (the user did not ask for the columns, so it is not an error).
        let columns = parsed.isGiven("sketch-columns") ? parsed.integer("sketch-columns")!
            : (d.sketchColumns < batchSize ? d.sketchColumns : 0)
        sketchColumns = columns > 0 ? columns : nil
        compression = parsed.string("compression") == "sampled" ? .sampled : .gaussian
        outerSteps = parsed.integer("outer-steps") ?? d.outerSteps
        innerLearningRate = parsed.real("inner-lr") ?? d.innerLearningRate
        outerLearningRate = parsed.real("outer-lr") ?? d.outerLearningRate
        seed = UInt64(parsed.integer("seed")!)
        threads = parsed.integer("threads")!
        // The parts not given are left to the data set's defaults (the runner knows the data).
        split = SplitRequest(training: parsed.integer("train"), validation: parsed.integer("validation"),
                             test: parsed.integer("test"))
        dataFile = parsed.string("data")
        checkpointFile = parsed.string("checkpoint")
        resumeFile = parsed.string("resume")
    }

    /// What a checkpoint of this run must match to be resumed: the task and every field of
    /// ``json`` as `key=value` fields (`;` and `=` in values escaped), so that a resumed run
    /// computes what the interrupted one would have (`--threads` included: it sets OpenBLAS's
    /// thread count, which changes the rounding of its reductions).
    public var checkpointIdentity: String {
        guard case let .object(pairs) = json else { return "" }
        return pairs.map { key, value in
            var json = value.serialized()
            if json.count >= 2, json.hasPrefix("\""), json.hasSuffix("\"") { json = String(json.dropFirst().dropLast()) }
            let text = json.replacingOccurrences(of: "%", with: "%25")
                .replacingOccurrences(of: ";", with: "%3B").replacingOccurrences(of: "=", with: "%3D")
            return "\(key)=\(text)"
        }.joined(separator: ";")
    }

    /// The configuration as an ordered JSON object (for trace.json).
    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = [("task", .string(task.name))]
        switch task {
        case let .clean(noise):
            pairs.append(("noise", .number(noise)))
            pairs.append(("model", .string(model.name)))
            if case .mlp(let h) = model { pairs.append(("hidden", .integer(h))) }
        case let .regularize(pair):
            pairs.append(("pair", pair.map { .array([.integer($0.first), .integer($0.second)]) } ?? .null))
        }
        pairs += [
            ("estimator", .string(estimator.rawValue)), ("rank", .integer(rank)), ("damping", .number(damping)),
            ("forgetting", .number(forgetting)),
            ("sketch_columns", sketchColumns.map(JSONValue.integer) ?? .null),
            ("compression", .string(compression.rawValue)),
        ]
        pairs += [
            ("sketch_every", .integer(sketchInterval)), ("fisher", .string(fisher.rawValue)),
            ("pcg_steps", .integer(pcgSteps)), ("pcg_batch", pcgBatchSize.map(JSONValue.integer) ?? .null),
            ("nystrom_rank", .integer(nystromRank)), ("nystrom_shift", .number(nystromShift)),
        ]
        pairs += [
            ("inner_steps", .integer(innerSteps)), ("batch_size", .integer(batchSize)),
            ("outer_steps", .integer(outerSteps)), ("inner_lr", .number(innerLearningRate)),
            ("outer_lr", .number(outerLearningRate)), ("seed", .integer(Int(seed))), ("threads", .integer(threads)),
            ("train", split.training.map(JSONValue.integer) ?? .null),
            ("validation", split.validation.map(JSONValue.integer) ?? .null),
            ("test", split.test.map(JSONValue.integer) ?? .null),
            ("data", dataFile.map(JSONValue.string) ?? .null),
        ]
        return .object(pairs)
    }
}
