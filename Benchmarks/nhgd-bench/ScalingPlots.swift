import Foundation
import NHGDReporting

/// The `scaling` suite's figures (SVG, log-log):
/// - `scaling-time.svg`: seconds per hypergradient against p on the synthetic problem, one
///   line per method at sketch rank k = 64 (NHGD's line includes one block's ingest), exact
///   measured and exact predicted (p³/3 flops at the dgemm rate) as separate lines; a second
///   panel does the same for the MNIST MLP;
/// - `scaling-bandwidth.svg`: Woodbury solve bandwidth ÷ read bandwidth against p, one line per k.
enum ScalingPlots {
    static let timeRank = 64

    static func write(_ records: [BenchmarkRecord], directory: String) throws {
        let scaling = records.filter { $0.suite == "scaling" }
        func label(_ r: BenchmarkRecord, _ key: String) -> String { r.labels.first { $0.0 == key }?.1 ?? "" }
        func metric(_ r: BenchmarkRecord, _ key: String) -> Double? { r.metrics.first { $0.0 == key }?.1 }
        func series(_ name: String, _ rows: [BenchmarkRecord], _ value: (BenchmarkRecord) -> Double?) -> PlotSeries? {
            let points = rows.compactMap { r in value(r).map { (Double(r.p), $0) } }.filter { $0.1.isFinite }
                .sorted { $0.0 < $1.0 }
            return points.isEmpty ? nil : PlotSeries(name: name, x: points.map(\.0), y: points.map(\.1))
        }
        func feasible(_ r: BenchmarkRecord) -> Bool { r.flags.first { $0.0 == "feasible" }?.1 ?? true }

        var panels = [PlotPanel]()
        for (problem, title, rankFilter) in [("synthetic-logistic", "synthetic logistic regression (k = \(timeRank))", true),
                                             ("mlp-mnist", "MNIST MLP hyper-cleaning", false)] {
            let rows = scaling.filter { label($0, "problem") == problem && (!rankFilter || $0.k == timeRank) }
            if rows.isEmpty { continue }
            var lines = [PlotSeries]()
            for method in ["nhgd", "cg-10", "neumann-10", "cg-200 (reference)"] {
                let chosen = rows.filter { label($0, "method") == method && feasible($0) }
                let value: (BenchmarkRecord) -> Double? = method == "nhgd" ? { metric($0, "iteration seconds") } : { $0.seconds }
                if let s = series(method == "nhgd" ? "nhgd (ingest + solve + cross)" : method, chosen, value) { lines.append(s) }
            }
            let exact = rows.filter { label($0, "method") == "exact" }
            if let s = series("exact", exact.filter(feasible), { $0.seconds }) { lines.append(s) }
            if let s = series("exact (predicted p³/3 at dgemm rate)", exact.filter { !feasible($0) }, { $0.seconds }) {
                lines.append(s)
            }
            panels.append(PlotPanel(title: title, xLabel: "p (parameters)", yLabel: "seconds per hypergradient",
                                    xScale: .log10, yScale: .log10, series: lines))
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !panels.isEmpty {
            let plot = SVGPlot(title: "Time per hypergradient against p", panels: panels)
            try plot.render().write(toFile: directory + "/scaling-time.svg", atomically: true, encoding: .utf8)
        }
        let solves = scaling.filter {
            label($0, "problem") == "synthetic-logistic" && label($0, "method") == "woodbury solve" && $0.ratio != nil
        }
        let ranks = Set(solves.map(\.k)).sorted()
        let bandwidth = ranks.compactMap { k in series("k = \(k)", solves.filter { $0.k == k }) { $0.ratio } }
        if !bandwidth.isEmpty {
            let plot = SVGPlot(title: "Woodbury solve: achieved ÷ read bandwidth", panels: [
                PlotPanel(title: "synthetic logistic regression, sketch operator", xLabel: "p (parameters)",
                          yLabel: "achieved / read bandwidth", xScale: .log10, yScale: .linear, series: bandwidth),
            ])
            try plot.render().write(toFile: directory + "/scaling-bandwidth.svg", atomically: true, encoding: .utf8)
        }
    }
}
