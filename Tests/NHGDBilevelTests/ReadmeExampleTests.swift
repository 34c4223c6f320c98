import Testing
import NaturalHypergradient

/// The README's library example, verbatim but for smaller sizes, so that it keeps compiling
/// and running as the API evolves.
@Test func readmeExampleRuns() throws {
    var rng = Xoshiro256StarStar(seed: 42)
    let problem = try CleaningExperiment.mnist(trainCount: 200, validationCount: 100, testCount: 100,
                                              corruptionFraction: 0.5, using: &rng).problem

    // NHGD: a rank-32 Frequent Directions sketch of the empirical Fisher, fed by the inner SGD …
    let nhgd = try NaturalHypergradient<DataHyperCleaning, FrequentDirectionsSketch>(
        sketch: FrequentDirectionsSketch(dimension: problem.innerDimension, rank: 32, compensation: .scalar),
        damping: 1e-3, columns: CurvatureColumnRequest(compression: .gaussian(columns: 8), forgetting: .constant(0.1)))
    // … or any baseline, with one line:
    let cg = try ConjugateGradientHypergradient<DataHyperCleaning>(iterations: 10)

    var configuration = BilevelOptimizerConfiguration()
    configuration.outerIterations = 2
    var optimizer = try BilevelOptimizer(problem: problem, estimator: nhgd, configuration: configuration)
    var seen = 0
    try optimizer.run { record in
        seen += 1
        _ = (record.iteration, record.outerLoss, record.errorBound, record.metrics["test_accuracy"])
    }
    #expect(seen == 2)
    var baseline = try BilevelOptimizer(problem: problem, estimator: cg, configuration: configuration)
    try baseline.run()
    #expect(baseline.trace.count == 2)
}
