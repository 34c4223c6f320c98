import NHGDBilevel
import NHGDReporting

/// One outer iteration of one run, as the tool reports it: a plain value that becomes a CSV
/// row, a JSON object, a progress line and a point on the plots.
public struct TraceRecord: Equatable, Sendable {
    /// The estimator that produced it (`compare` mixes several in one trace).
    public var estimator: String
    /// 1-based outer iteration.
    public var iteration: Int
    /// Cumulative optimisation wall time in seconds.
    public var seconds: Double
    /// Outer objective f(x, y) at this iteration.
    public var outerLoss: Double
    /// ‖d‖ of the hypergradient estimate, if known.
    public var hypergradientNorm: Double?
    /// The estimator's own error bound, where it has one (NHGD's sketch certificate).
    public var errorBound: Double?
    /// Cumulative oracle calls.
    public var oracleCalls: OracleCounts
    /// Task metrics such as `validation_accuracy`, `test_accuracy`, `auroc`.
    public var metrics: [String: Double]

    public init(estimator: String, iteration: Int, seconds: Double, outerLoss: Double, hypergradientNorm: Double? = nil,
                errorBound: Double? = nil, oracleCalls: OracleCounts = OracleCounts(), metrics: [String: Double] = [:]) {
        self.estimator = estimator
        self.iteration = iteration
        self.seconds = seconds
        self.outerLoss = outerLoss
        self.hypergradientNorm = hypergradientNorm
        self.errorBound = errorBound
        self.oracleCalls = oracleCalls
        self.metrics = metrics
    }

    /// The optimiser's record of an outer iteration, labelled with its estimator.
    public init(estimator: EstimatorName, _ record: OuterIterationRecord) {
        self.init(estimator: estimator.rawValue, iteration: record.iteration, seconds: record.seconds,
                  outerLoss: record.outerLoss, hypergradientNorm: record.hypergradientNorm,
                  errorBound: record.errorBound, oracleCalls: record.oracleCalls, metrics: record.metrics)
    }


    /// The record as an ordered JSON object (metrics in `metricOrder`, non-finite values as null).
    public func json(metricOrder: [String]) -> JSONValue {
        .object([
            ("estimator", .string(estimator)), ("iteration", .integer(iteration)), ("seconds", .finite(seconds)),
            ("outer_loss", .finite(outerLoss)),
            ("hypergradient_norm", hypergradientNorm.map(JSONValue.finite) ?? .null),
            ("error_bound", errorBound.map(JSONValue.finite) ?? .null),
            ("oracle_calls", .object([
                ("sample_gradients", .integer(oracleCalls.sampleGradients)),
                ("hessian_vector_products", .integer(oracleCalls.hessianVectorProducts)),
                ("cross_products", .integer(oracleCalls.crossProducts)),
                ("outer_gradients", .integer(oracleCalls.outerGradients)),
                ("sample_losses", .integer(oracleCalls.sampleLosses)),
            ])),
            ("metrics", .object(metricOrder.compactMap { key in metrics[key].map { (key, .finite($0)) } })),
        ])
    }
}

/// Turning a trace (records of one or several estimators) into report files.
public enum TraceReport {
    /// Metric names found in `trace`: the well-known ones first, then the rest alphabetically.
    public static func metricOrder(_ trace: [TraceRecord]) -> [String] {
        let preferred = ["validation_accuracy", "test_accuracy", "validation_loss", "test_loss", "auroc"]
        let all = Set(trace.flatMap(\.metrics.keys))
        return preferred.filter(all.contains) + all.subtracting(preferred).sorted()
    }

    /// trace.csv: one row per record; a metric missing from a record is an empty cell.
    public static func csv(_ trace: [TraceRecord]) -> String {
        let metrics = metricOrder(trace)
        var csv = CSVWriter(header: ["estimator", "iteration", "seconds", "outer_loss", "hypergradient_norm", "error_bound",
                                     "sample_gradients", "hessian_vector_products", "cross_products", "outer_gradients",
                                     "sample_losses"] + metrics)
        for r in trace {
            csv.append([r.estimator, String(r.iteration), CSVWriter.field(r.seconds), CSVWriter.field(r.outerLoss),
                        r.hypergradientNorm.map(CSVWriter.field) ?? "", r.errorBound.map(CSVWriter.field) ?? "",
                        String(r.oracleCalls.sampleGradients), String(r.oracleCalls.hessianVectorProducts),
                        String(r.oracleCalls.crossProducts), String(r.oracleCalls.outerGradients),
                        String(r.oracleCalls.sampleLosses)]
                       + metrics.map { r.metrics[$0].map(CSVWriter.field) ?? "" })
        }
        return csv.text
    }

    /// The records as a JSON array.
    public static func json(_ trace: [TraceRecord]) -> JSONValue {
        let order = metricOrder(trace)
        return .array(trace.map { $0.json(metricOrder: order) })
    }

    /// plot.svg: accuracy (test, else validation) and outer loss against time, one line per
    /// estimator. The loss axis is logarithmic when the losses are positive and span a decade.
    public static func plot(_ trace: [TraceRecord], title: String) -> SVGPlot {
        var estimators: [String] = []
        for r in trace where !estimators.contains(r.estimator) { estimators.append(r.estimator) }
        let accuracyKey = trace.contains { $0.metrics["test_accuracy"] != nil } ? "test_accuracy" : "validation_accuracy"
        func series(_ value: (TraceRecord) -> Double) -> [PlotSeries] {
            estimators.map { name in
                let records = trace.filter { $0.estimator == name }
                return PlotSeries(name: name, x: records.map(\.seconds), y: records.map(value))
            }
        }
        let losses = trace.map(\.outerLoss).filter(\.isFinite)
        let logLoss = !losses.isEmpty && losses.min()! > 0 && losses.max()! / losses.min()! >= 10
        return SVGPlot(title: title, panels: [
            PlotPanel(title: accuracyKey == "test_accuracy" ? "Test accuracy" : "Validation accuracy",
                      xLabel: "time (s)", yLabel: accuracyKey.replacingOccurrences(of: "_", with: " "),
                      series: series { $0.metrics[accuracyKey] ?? .nan }),
            PlotPanel(title: "Outer loss", xLabel: "time (s)", yLabel: "outer loss f(x, y)",
                      yScale: logLoss ? .log10 : .linear, series: series(\.outerLoss)),
        ])
    }
}
