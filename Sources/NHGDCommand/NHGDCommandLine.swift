import Foundation
import NHGDReporting

/// The declarations of `nhgd`'s command line: subcommands `clean` (the default),
/// `regularize` and `compare`, with the options the issue specifies.
public enum NHGDCommandLine {
    /// Options every subcommand takes. `splitDefaults` gives `--train/--validation/--test`
    /// defaults (none for `regularize`, whose data sets differ in size). `d` gives the
    /// hyperparameters' defaults; `nil` (for `compare`) leaves them to the chosen `--task`
    /// (``RunConfiguration`` fills them in from ``TaskDefaults``).
    static func commonOptions(splitDefaults: Bool, _ d: TaskDefaults?) -> [OptionDeclaration] {
        let standard = SplitSizes.standard
        let splitHelp = splitDefaults ? ""
            : " Default: 2000/1000/2000 for clean; for regularize 300/300/400 of an MNIST pair, thirds of breast cancer or of --data; a size not given takes its default."
        let taskHelp = d == nil ? " Default: that of --task." : ""
        return [
            .integer("rank", default: d?.rank, .within(1...4096), help: "Rank of the Fisher sketch (nhgd)." + taskHelp),
            .real("damping", default: d?.damping, .positive, help: "Damping λ added to the sketched Fisher (nhgd)." + taskHelp),
            .real("forgetting", default: d?.forgetting, RealConstraint(lower: 0, lowerInclusive: false, upper: 1),
                  help: "Forgetting factor β of the streamed Fisher (nhgd): F ← (1−β)F + β·(new block)." + taskHelp),
            .integer("sketch-columns", default: d?.sketchColumns, .within(0...1_000_000),
                     help: "Compress each gradient block to this many columns before the sketch ingests it, without bias (nhgd; 0: no compression; at most --batch-size, and the default compresses only larger batches)." + taskHelp),
            .string("compression", default: "gaussian", choices: ["gaussian", "sampled"],
                    help: "How --sketch-columns compresses a block: random Gaussian combinations of all its columns (one gemm), or a uniform sample of its columns rescaled (a copy)."),
            .integer("sketch-every", default: d?.sketchInterval, .within(1...1_000_000),
                     help: "Compute sketch columns on every k-th inner step only (nhgd)." + taskHelp),
            .string("fisher", default: "empirical", choices: ["empirical", "sampled"],
                    help: "Gradients of the sketch columns at the observed labels (the empirical Fisher) or at labels drawn from the model (the sampled-label Fisher, whose mean is the Gauss-Newton matrix) (nhgd)."),
            .integer("pcg-steps", default: d?.pcgSteps, .within(1...1_000),
                     help: "Sketch-preconditioned CG steps per estimate (nhgd-pcg)." + taskHelp),
            .integer("pcg-batch", default: d?.pcgBatch, .within(0...1_000_000),
                     help: "Samples per Hessian-vector product of nhgd-pcg (0: all training data)." + taskHelp),
            .string("pcg-method", default: "cg", choices: ["cg", "richardson"],
                    help: "How nhgd-pcg refines the sketch's solution: preconditioned CG on one batch, or preconditioned Richardson steps u ← u + η M⁻¹(∇ᵧf − H u) with a fresh batch each."),
            .real("pcg-step", default: 1, RealConstraint(lower: 0, lowerInclusive: false, upper: 2),
                  help: "Step η of --pcg-method richardson."),
            .integer("nystrom-rank", default: d?.nystromRank, .within(1...100_000),
                     help: "Hessian columns k of the Nyström approximation (nystrom)." + taskHelp),
            .real("nystrom-shift", default: d?.nystromShift, .positive,
                  help: "Shift ρ of the Nyström inverse (Ĥ + ρI)⁻¹ (nystrom)." + taskHelp),
            .integer("inner-steps", default: d?.innerSteps, .within(1...1_000_000), help: "Inner SGD steps per outer iteration." + taskHelp),
            .integer("batch-size", default: d?.batchSize, .within(1...1_000_000), help: "Minibatch size." + taskHelp),
            .integer("outer-steps", default: d?.outerSteps, .within(1...1_000_000), help: "Outer iterations." + taskHelp),
            .real("inner-lr", default: d?.innerLearningRate, .positive, help: "Inner learning rate." + taskHelp),
            .real("outer-lr", default: d?.outerLearningRate, .positive, help: "Outer learning rate." + taskHelp),
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
    static let noiseOption = OptionDeclaration.real(
        "noise", default: 0.5, .within(0...1), help: "Fraction of training labels corrupted (clean only).")
    static let pairOption = OptionDeclaration.integerList(
        "pair", .within(0...9), count: 2...2, help: "Two MNIST digits for a binary problem instead of breast cancer, e.g. 3,8.")

    /// The full declaration.
    public static let declaration = CommandDeclaration(
        "nhgd",
        abstract: "Natural hypergradient descent for bilevel optimisation: data hyper-cleaning, per-feature regularisation and comparisons of hypergradient estimators.",
        subcommands: [
            CommandDeclaration(
                "clean", abstract: "Data hyper-cleaning of MNIST-5k: learn one weight per training sample so that corrupted labels are down-weighted.",
                options: [estimatorOption, noiseOption] + commonOptions(splitDefaults: true, .cleaning)),
            CommandDeclaration(
                "regularize", abstract: "Learn a per-feature L2 penalty of logistic regression on breast cancer, or on a binary MNIST pair with --pair.",
                options: [estimatorOption, pairOption] + commonOptions(splitDefaults: false, .regularization)),
            CommandDeclaration(
                "compare", abstract: "Run several hypergradient estimators on the same task and compare time to a target outer loss.",
                options: [
                    .stringList("estimators", default: ["nhgd", "cg", "neumann", "amigo"], choices: EstimatorName.choices,
                                count: 1...EstimatorName.allCases.count, help: "Estimators to compare."),
                    .real("target-loss", help: "Report the time each estimator takes to reach this outer loss."),
                    .string("task", default: "clean", choices: ["clean", "regularize"], help: "Which task to compare on."),
                    noiseOption, pairOption,
                ] + commonOptions(splitDefaults: false, nil)),
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
                                       pcgSteps: 1, pcgBatch: 0, nystromRank: 5, nystromShift: 0.1, innerSteps: 50,
                                       batchSize: 64, outerSteps: 80, innerLearningRate: 0.5, outerLearningRate: 0.5)
    /// Per-feature L2 of logistic regression (p = q = 31 on breast cancer, 785 on an MNIST
    /// pair): standardised features need a smaller inner step (0.5 diverges on breast cancer).
    static let regularization = TaskDefaults(rank: 16, damping: 1e-3, forgetting: 0.1, sketchColumns: 8,
                                             sketchInterval: 1, pcgSteps: 1, pcgBatch: 0, nystromRank: 5, nystromShift: 0.1,
                                             innerSteps: 50, batchSize: 64, outerSteps: 30,
                                             innerLearningRate: 0.1, outerLearningRate: 0.1)
}
