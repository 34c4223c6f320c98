import Foundation
import NHGDReporting

/// The declarations of `nhgd`'s command line: subcommands `clean` (the default),
/// `regularize` and `compare`, with the options the issue specifies.
public enum NHGDCommandLine {
    /// Where the hyperparameters' defaults come from.
    enum Defaults {
        /// One set, declared with the options (`regularize`).
        case declared(TaskDefaults)
        /// The model's (`clean`): declared only where both models agree, else named in the help.
        case perModel(linear: TaskDefaults, network: TaskDefaults)
        /// The chosen `--task`'s and `--model`'s (`compare`).
        case perTask

        /// The declared default of one hyperparameter.
        func value<T: Equatable>(_ key: KeyPath<TaskDefaults, T>) -> T? {
            switch self {
            case .declared(let d): d[keyPath: key]
            case let .perModel(linear, network): linear[keyPath: key] == network[keyPath: key] ? linear[keyPath: key] : nil
            case .perTask: nil
            }
        }

        /// What the help adds when the default is not declared.
        func help<T: Equatable>(_ key: KeyPath<TaskDefaults, T>) -> String {
            switch self {
            case .declared: ""
            case let .perModel(linear, network):
                linear[keyPath: key] == network[keyPath: key] ? ""
                    : " Default: \(linear[keyPath: key]) (--model linear), \(network[keyPath: key]) (--model mlp)."
            case .perTask: " Default: that of --task and --model."
            }
        }

        /// The help of a sketch setting whose default differs for nhgd-pcg (never declared).
        func help(_ key: KeyPath<TaskDefaults, Int>, preconditioner: KeyPath<TaskDefaults, Int>) -> String {
            func both(_ d: TaskDefaults) -> String { "\(d[keyPath: key]) (\(d[keyPath: preconditioner]) for nhgd-pcg)" }
            switch self {
            case .declared(let d): return " Default: \(both(d))."
            case let .perModel(linear, network): return " Default: \(both(linear)) with --model linear, \(both(network)) with --model mlp."
            case .perTask: return " Default: that of --task and --model."
            }
        }
    }

    /// Options every subcommand takes. `splitDefaults` gives `--train/--validation/--test`
    /// defaults (none for `regularize`, whose data sets differ in size). `d` gives the
    /// hyperparameters' defaults (``RunConfiguration`` fills in those not declared from
    /// ``TaskDefaults``).
    static func commonOptions(splitDefaults: Bool, _ d: Defaults) -> [OptionDeclaration] {
        let standard = SplitSizes.standard
        let splitHelp = splitDefaults ? ""
            : " Default: 2000/1000/2000 for clean; for regularize 300/300/400 of an MNIST pair, thirds of breast cancer or of --data."
        return [
            .integer("rank", .within(1...4096), help: "Rank of the Fisher sketch (nhgd)." + d.help(\.rank, preconditioner: \.pcgRank)),
            .real("damping", default: d.value(\.damping), .positive, help: "Damping λ added to the sketched Fisher (nhgd)." + d.help(\.damping)),
            .real("forgetting", default: d.value(\.forgetting), RealConstraint(lower: 0, lowerInclusive: false, upper: 1),
                  help: "Forgetting factor β of the streamed Fisher (nhgd): F ← (1−β)F + β·(new block)." + d.help(\.forgetting)),
            .integer("sketch-columns", default: d.value(\.sketchColumns), .within(0...1_000_000),
                     help: "Compress each gradient block to this many columns before the sketch ingests it, without bias (nhgd; 0: no compression; at most --batch-size, and the default compresses only larger batches)." + d.help(\.sketchColumns)),
            .string("compression", default: "gaussian", choices: ["gaussian", "sampled"],
                    help: "How --sketch-columns compresses a block: random Gaussian combinations of all its columns (one gemm), or a uniform sample of its columns rescaled (a copy)."),
            .integer("sketch-every", .within(1...1_000_000),
                     help: "Compute sketch columns on every k-th inner step only (nhgd)."
                         + d.help(\.sketchInterval, preconditioner: \.pcgSketchInterval)),
            .string("fisher", default: "empirical", choices: ["empirical", "sampled"],
                    help: "Gradients of the sketch columns at the observed labels (the empirical Fisher) or at labels drawn from the model (the sampled-label Fisher, whose mean is the Gauss-Newton matrix) (nhgd)."),
            .integer("pcg-steps", default: d.value(\.pcgSteps), .within(1...1_000),
                     help: "Sketch-preconditioned CG steps per estimate (nhgd-pcg)." + d.help(\.pcgSteps)),
            .integer("pcg-batch", default: d.value(\.pcgBatch), .within(0...1_000_000),
                     help: "Samples per Hessian-vector product of nhgd-pcg (0: all training data)." + d.help(\.pcgBatch)),
            .integer("nystrom-rank", default: d.value(\.nystromRank), .within(1...100_000),
                     help: "Hessian columns k of the Nyström approximation (nystrom)." + d.help(\.nystromRank)),
            .real("nystrom-shift", default: d.value(\.nystromShift), .positive,
                  help: "Shift ρ of the Nyström inverse (Ĥ + ρI)⁻¹ (nystrom)." + d.help(\.nystromShift)),
            .integer("inner-steps", default: d.value(\.innerSteps), .within(1...1_000_000), help: "Inner SGD steps per outer iteration." + d.help(\.innerSteps)),
            .integer("batch-size", default: d.value(\.batchSize), .within(1...1_000_000), help: "Minibatch size." + d.help(\.batchSize)),
            .integer("outer-steps", default: d.value(\.outerSteps), .within(1...1_000_000), help: "Outer iterations." + d.help(\.outerSteps)),
            .real("inner-lr", default: d.value(\.innerLearningRate), .positive, help: "Inner learning rate." + d.help(\.innerLearningRate)),
            .real("outer-lr", default: d.value(\.outerLearningRate), .positive, help: "Outer learning rate." + d.help(\.outerLearningRate)),
            .integer("seed", default: 0, .atLeast(0), help: "Random seed; a run is reproducible from it."),
            .integer("threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount), .within(1...1024),
                     help: "Worker and BLAS threads."),
            .integer("train", default: splitDefaults ? standard.training : nil, .atLeast(1),
                     help: "Number of training samples." + splitHelp),
            .integer("validation", default: splitDefaults ? standard.validation : nil, .atLeast(1),
                     help: "Number of validation samples."),
            .integer("test", default: splitDefaults ? standard.test : nil, .atLeast(1), help: "Number of test samples."),
            .string("data", valueName: "FILE", help: "Use this CSV file (label in the last column) instead of the built-in data."),
            .string("output", valueName: "DIR", help: "Write trace.csv, trace.json and plot.svg to this directory."),
            .flag("quiet", help: "Print only the final JSON line."),
        ]
    }

    static let estimatorOption = OptionDeclaration.string(
        "estimator", default: EstimatorName.nhgd.rawValue, choices: EstimatorName.choices, valueName: "name",
        help: "Hypergradient estimator.")
    /// `clean`'s: the default follows `--model`.
    static let cleaningEstimatorOption = OptionDeclaration.string(
        "estimator", choices: EstimatorName.choices, valueName: "name",
        help: "Hypergradient estimator. Default: nhgd (--model linear), nhgd-pcg (--model mlp: the Fisher alone is a poor surrogate of the network's Hessian).")

    /// The estimator of a `clean` or `regularize` command line.
    static func estimator(_ parsed: ParsedArguments) -> EstimatorName {
        if let name = parsed.string("estimator") { return EstimatorName(rawValue: name)! }
        return parsed.string("model") == "mlp" ? .nhgdPCG : .nhgd
    }
    /// `clean` and `regularize` (not `compare`, which runs several estimators in turn).
    static let checkpointOptions: [OptionDeclaration] = [
        .string("checkpoint", valueName: "FILE",
                help: "Write the whole state to FILE (atomically) after every outer iteration, so that --resume FILE can continue the run (SIGINT or SIGTERM stops a run after the current iteration and its checkpoint)."),
        .string("resume", valueName: "FILE",
                help: "Continue from a checkpoint written by the same command line; the result equals that of the uninterrupted run bit for bit."),
    ]
    static let noiseOption = OptionDeclaration.real(
        "noise", default: 0.5, .within(0...1), help: "Fraction of training labels corrupted (clean only).")
    static let modelOption = OptionDeclaration.string(
        "model", default: "linear", choices: ["linear", "mlp"],
        help: "Classifier of clean: softmax regression (p = 7,850 on MNIST) or a one-hidden-layer tanh network (p = 795·H + 10).")
    static let hiddenOption = OptionDeclaration.integer(
        "hidden", default: 512, .within(1...100_000),
        help: "Hidden units H of --model mlp: 512 gives p = 407,050, 1280 gives p = 1,017,610.")
    static let pairOption = OptionDeclaration.integerList(
        "pair", .within(0...9), count: 2...2, help: "Two MNIST digits for a binary problem instead of breast cancer, e.g. 3,8.")

    /// The full declaration.
    public static let declaration = CommandDeclaration(
        "nhgd",
        abstract: "Natural hypergradient descent for bilevel optimisation: data hyper-cleaning, per-feature regularisation and comparisons of hypergradient estimators.",
        subcommands: [
            CommandDeclaration(
                "clean", abstract: "Data hyper-cleaning of MNIST-5k: learn one weight per training sample so that corrupted labels are down-weighted.",
                options: [cleaningEstimatorOption, noiseOption, modelOption, hiddenOption]
                    + commonOptions(splitDefaults: true, .perModel(linear: .cleaning, network: .networkCleaning))
                    + checkpointOptions),
            CommandDeclaration(
                "regularize", abstract: "Learn a per-feature L2 penalty of logistic regression on breast cancer, or on a binary MNIST pair with --pair.",
                options: [estimatorOption, pairOption] + commonOptions(splitDefaults: false, .declared(.regularization))
                    + checkpointOptions),
            CommandDeclaration(
                "compare", abstract: "Run several hypergradient estimators on the same task and compare time to a target outer loss.",
                options: [
                    .stringList("estimators", default: ["nhgd", "cg", "neumann", "amigo"], choices: EstimatorName.choices,
                                count: 1...EstimatorName.allCases.count, help: "Estimators to compare."),
                    .real("target-loss", help: "Report the time each estimator takes to reach this outer loss."),
                    .string("task", default: "clean", choices: ["clean", "regularize"], help: "Which task to compare on."),
                    noiseOption, pairOption, modelOption, hiddenOption,
                ] + commonOptions(splitDefaults: false, .perTask)),
        ],
        defaultSubcommand: "clean")

    public static let parser = ArgumentParser(declaration)
}

/// Default hyperparameters of a task, chosen by the measurements in Docs/cli.md.
struct TaskDefaults {
    var rank: Int
    var damping: Double
    var forgetting: Double
    var sketchColumns: Int
    var sketchInterval: Int
    /// The sketch of nhgd-pcg, a preconditioner, needs less than NHGD's own.
    var pcgRank: Int
    var pcgSketchInterval: Int
    var pcgSteps: Int
    var pcgBatch: Int
    var nystromRank: Int
    var nystromShift: Double
    var innerSteps: Int
    var batchSize: Int
    var outerSteps: Int
    var innerLearningRate: Double
    var outerLearningRate: Double

    /// Hyper-cleaning of MNIST-5k (p = 7,850, q = 2,000), from the sweep in Docs/cli.md: rank 64
    /// matched rank 96–128 and beat 16–32; 8 compressed columns per block halve the sketch's
    /// work against 16 at no measured cost; inner step 0.5 is stable for pixels in [0, 1];
    /// 80 Adam steps of 0.5 separate the weights (mean weight ≈ 0.08 on corrupted samples,
    /// ≈ 0.95 on clean ones); forgetting 0.03 (a memory of ≈ 33 blocks) closed more of the gap
    /// than 0.1 on seeds 0–4 (mean 1.02 against 1.01).
    static let cleaning = TaskDefaults(rank: 64, damping: 1e-3, forgetting: 0.03, sketchColumns: 8, sketchInterval: 1,
                                       pcgRank: 16, pcgSketchInterval: 5, pcgSteps: 2, pcgBatch: 256, nystromRank: 5, nystromShift: 0.1, innerSteps: 50,
                                       batchSize: 64, outerSteps: 80, innerLearningRate: 0.5, outerLearningRate: 0.5)
    /// Hyper-cleaning of MNIST-5k with the tanh network (`--model mlp`, p = 407,050 at the
    /// default H = 512), by nhgd-pcg (the default estimator there): with the linear model's
    /// steps (inner 0.5, outer 0.5) the weights barely separate in 40 iterations (gap 0.51,
    /// AUROC 0.89); a smaller inner step (0.3) keeps the network's SGD stable, a larger outer
    /// step (1.5) separates the weights, and 50 iterations fit well under a minute
    /// (Docs/cli.md has the runs).
    static let networkCleaning = TaskDefaults(rank: 16, damping: 1e-3, forgetting: 0.03, sketchColumns: 8,
                                              sketchInterval: 5, pcgRank: 16, pcgSketchInterval: 5, pcgSteps: 2,
                                              pcgBatch: 256, nystromRank: 5, nystromShift: 0.1, innerSteps: 50,
                                              batchSize: 64, outerSteps: 50, innerLearningRate: 0.3,
                                              outerLearningRate: 1.5)
    /// Per-feature L2 of logistic regression (p = q = 31 on breast cancer, 785 on an MNIST
    /// pair): standardised features need a smaller inner step (0.5 diverges on breast cancer).
    static let regularization = TaskDefaults(rank: 16, damping: 1e-3, forgetting: 0.1, sketchColumns: 8,
                                             sketchInterval: 1, pcgRank: 16, pcgSketchInterval: 1, pcgSteps: 1, pcgBatch: 0,
                                             nystromRank: 5, nystromShift: 0.1,
                                             innerSteps: 50, batchSize: 64, outerSteps: 30,
                                             innerLearningRate: 0.1, outerLearningRate: 0.1)
}
