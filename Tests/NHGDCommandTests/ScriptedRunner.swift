import NHGDBilevel
import NHGDCommand
import Synchronization

/// A runner with a known trace: outer loss `1/(i+1)`, accuracies rising with i, oracle
/// calls `100·i`, and fixed cleaning results. Records every configuration it is given and
/// fails for the estimators in `failing`.
final class ScriptedRunner: ExperimentRunner {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "scripted failure:\nsecond line" }
    }

    let failing: Set<EstimatorName>
    let results: [RunResult]
    private let received = Mutex<[RunConfiguration]>([])

    init(failing: Set<EstimatorName> = [], results: [RunResult] = ScriptedRunner.cleaningResults) {
        self.failing = failing
        self.results = results
    }

    static let cleaningResults = [RunResult("corrupted_accuracy", 0.70), RunResult("oracle_accuracy", 0.90),
                                  RunResult("cleaned_accuracy", 0.85), RunResult("auroc", 0.93)]

    var configurations: [RunConfiguration] { received.withLock { $0 } }

    /// The loss at iteration i for an estimator: later estimators in the enum converge slower.
    static func loss(_ estimator: EstimatorName, _ i: Int) -> Double {
        let rank = Double(EstimatorName.allCases.firstIndex(of: estimator)! + 1)
        return 1 / (1 + Double(i) / rank)
    }

    func run(_ configuration: RunConfiguration, progress: (TraceRecord) -> Void) throws -> RunOutcome {
        received.withLock { $0.append(configuration) }
        if failing.contains(configuration.estimator) { throw Failure() }
        var trace: [TraceRecord] = []
        for i in 1...configuration.outerSteps {
            let record = TraceRecord(
                estimator: configuration.estimator.rawValue, iteration: i, seconds: 0.5 * Double(i),
                outerLoss: Self.loss(configuration.estimator, i), hypergradientNorm: 1 / Double(i),
                oracleCalls: OracleCounts(sampleGradients: 100 * i, hessianVectorProducts: i),
                metrics: ["validation_accuracy": 0.5 + 0.01 * Double(i), "test_accuracy": 0.49 + 0.01 * Double(i)])
            progress(record)
            trace.append(record)
        }
        return RunOutcome(trace: trace, results: results)
    }
}
