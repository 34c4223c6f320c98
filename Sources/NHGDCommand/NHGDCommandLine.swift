import Foundation
import NHGDReporting

/// The declarations of `nhgd`'s command line: subcommands `clean` (the default),
/// `regularize` and `compare`, with the options the issue specifies.
public enum NHGDCommandLine {
    /// Options every subcommand takes. `splitDefaults` gives `--train/--validation/--test`
    /// defaults (none for `regularize`, whose data sets differ in size).
    static func commonOptions(splitDefaults: Bool) -> [OptionDeclaration] {
        let standard = SplitSizes.standard
        let splitHelp = splitDefaults ? "" : " Default: 2000/1000/2000 for MNIST, 60%/20%/20% of breast cancer or --data."
        return [
            .integer("rank", default: 20, .within(1...4096), help: "Rank of the Fisher sketch (nhgd)."),
            .real("damping", default: 1e-3, .positive, help: "Damping λ added to the sketched Fisher (nhgd)."),
            .real("forgetting", default: 0.1, RealConstraint(lower: 0, lowerInclusive: false, upper: 1),
                  help: "Forgetting factor β of the streamed Fisher (nhgd): F ← (1−β)F + β·(new block)."),
            .integer("sketch-columns", default: 16, .within(0...1_000_000),
                     help: "Compress each gradient block to this many random columns before the sketch ingests it (nhgd; 0: no compression)."),
            .integer("inner-steps", default: 50, .within(1...1_000_000), help: "Inner SGD steps per outer iteration."),
            .integer("batch-size", default: 64, .within(1...1_000_000), help: "Minibatch size."),
            .integer("outer-steps", default: 30, .within(1...1_000_000), help: "Outer iterations."),
            .real("inner-lr", default: 0.1, .positive, help: "Inner learning rate."),
            .real("outer-lr", default: 0.1, .positive, help: "Outer learning rate."),
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
                options: [estimatorOption, noiseOption] + commonOptions(splitDefaults: true)),
            CommandDeclaration(
                "regularize", abstract: "Learn a per-feature L2 penalty of logistic regression on breast cancer, or on a binary MNIST pair with --pair.",
                options: [estimatorOption, pairOption] + commonOptions(splitDefaults: false)),
            CommandDeclaration(
                "compare", abstract: "Run several hypergradient estimators on the same task and compare time to a target outer loss.",
                options: [
                    .stringList("estimators", default: ["nhgd", "cg", "neumann", "amigo", "exact"], choices: EstimatorName.choices,
                                count: 1...EstimatorName.allCases.count, help: "Estimators to compare."),
                    .real("target-loss", help: "Report the time each estimator takes to reach this outer loss."),
                    .string("task", default: "clean", choices: ["clean", "regularize"], help: "Which task to compare on."),
                    noiseOption, pairOption,
                ] + commonOptions(splitDefaults: false)),
        ],
        defaultSubcommand: "clean")

    public static let parser = ArgumentParser(declaration)
}
