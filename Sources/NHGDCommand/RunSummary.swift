import NHGDReporting

/// The runner returned an outcome the tool cannot report.
public struct IncompleteOutcomeError: Error, Equatable, Sendable, CustomStringConvertible {
    public var missing: [String]
    public var description: String { "the run did not report \(missing.joined(separator: ", "))" }
}

/// The final JSON object and the tables printed after a run.
enum RunSummary {
    /// Results every `clean` run must report (see ``RunOutcome/results``).
    static let requiredCleaningResults = ["corrupted_accuracy", "oracle_accuracy", "cleaned_accuracy", "auroc"]

    /// `(cleaned − corrupted) / (oracle − corrupted)`: the share of the accuracy lost to
    /// label noise that cleaning wins back (NaN when the noise cost nothing).
    static func gapClosed(corrupted: Double, oracle: Double, cleaned: Double) -> Double {
        let gap = oracle - corrupted
        return gap > 0 ? (cleaned - corrupted) / gap : .nan
    }

    static func make(command: String, configuration: RunConfiguration, targetLoss: Double?,
                     outcomes: [(estimator: EstimatorName, outcome: Result<RunOutcome, any Error>)],
                     seconds: Double, outputDirectory: String?) throws -> (JSONValue, [TextTable]) {
        var runTable = TextTable(headers: ["estimator", "iterations", "seconds", "outer loss", "val acc", "test acc", "oracle calls"]
                                 + (targetLoss == nil ? [] : ["time to target", "iters to target"]))
        var entries: [JSONValue] = []
        for (estimator, result) in outcomes {
            switch result {
            case let .failure(error):
                runTable.append([estimator.rawValue, "failed"] + Array(repeating: "-", count: runTable.headers.count - 2))
                entries.append(.object([("estimator", .string(estimator.rawValue)), ("error", .string(String(describing: error)))]))
            case let .success(outcome):
                let last = outcome.trace.last
                var row = [estimator.rawValue, String(outcome.trace.count),
                           last.map { NumberFormatting.significant($0.seconds, digits: 4) } ?? "-",
                           last.map { NumberFormatting.significant($0.outerLoss, digits: 5) } ?? "-",
                           last?.metrics["validation_accuracy"].map { NumberFormatting.percent($0) } ?? "-",
                           last?.metrics["test_accuracy"].map { NumberFormatting.percent($0) } ?? "-",
                           last.map { String($0.oracleCalls.total) } ?? "-"]
                var pairs: [(String, JSONValue)] = [("estimator", .string(estimator.rawValue))]
                if command == "clean" {
                    let missing = requiredCleaningResults.filter { outcome.result($0) == nil }
                    if !missing.isEmpty { throw IncompleteOutcomeError(missing: missing) }
                }
                for r in outcome.results { pairs.append((r.name, .finite(r.value))) }
                if command == "clean", outcome.result("gap_closed") == nil {
                    let gap = gapClosed(corrupted: outcome.result("corrupted_accuracy")!, oracle: outcome.result("oracle_accuracy")!,
                                        cleaned: outcome.result("cleaned_accuracy")!)
                    let at = pairs.firstIndex { $0.0 == "cleaned_accuracy" }! + 1
                    pairs.insert(("gap_closed", .finite(gap)), at: at)
                }
                pairs.append(("final_outer_loss", last.map { .finite($0.outerLoss) } ?? .null))
                pairs.append(("iterations", .integer(outcome.trace.count)))
                pairs.append(("oracle_calls", .integer(last?.oracleCalls.total ?? 0)))
                if let targetLoss {
                    let hit = outcome.trace.first { $0.outerLoss <= targetLoss }
                    pairs.append(("seconds_to_target", hit.map { .finite($0.seconds) } ?? .null))
                    pairs.append(("iterations_to_target", hit.map { .integer($0.iteration) } ?? .null))
                    row += [hit.map { NumberFormatting.significant($0.seconds, digits: 4) } ?? "not reached",
                            hit.map { String($0.iteration) } ?? "-"]
                }
                if command == "compare" { pairs.append(("seconds", .finite(last?.seconds ?? .nan))) }
                runTable.append(row)
                entries.append(.object(pairs))
            }
        }

        var tables = [runTable]
        let outputValue: JSONValue = outputDirectory.map(JSONValue.string) ?? .null
        if command == "compare" {
            let summary = JSONValue.object([
                ("command", .string(command)), ("task", .string(configuration.task.name)),
                ("target_loss", targetLoss.map(JSONValue.finite) ?? .null), ("results", .array(entries)),
                ("seconds", .finite(seconds)), ("output", outputValue),
            ])
            return (summary, tables)
        }
        guard case let .object(pairs)? = entries.first else { throw IncompleteOutcomeError(missing: ["a result"]) }
        var resultTable = TextTable(headers: ["result", "value"])
        for (name, value) in pairs.dropFirst() {
            let text: String
            if case let .integer(count) = value {
                text = String(count)
            } else {
                text = value.doubleValue.map { NumberFormatting.significant($0, digits: 4) } ?? "n/a"
            }
            resultTable.append([name.replacingOccurrences(of: "_", with: " "), text])
        }
        tables.append(resultTable)
        // `seconds` is the optimisation itself (the trace's clock, which excludes metric
        // evaluation and the reference models); `total_seconds` is the whole run.
        let optimizationSeconds = (try? outcomes.first?.outcome.get())?.trace.last?.seconds ?? seconds
        let summary = JSONValue.object([("command", .string(command))] + pairs
            + [("seconds", .finite(optimizationSeconds)), ("total_seconds", .finite(seconds)), ("output", outputValue)])
        return (summary, tables)
    }
}
