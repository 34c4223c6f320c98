import Foundation

/// One line of a plot: a name for the legend and the points (`x[i]`, `y[i]`).
public struct PlotSeries: Equatable, Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]

    public init(name: String, x: [Double], y: [Double]) {
        precondition(x.count == y.count, "series \(name): \(x.count) x values but \(y.count) y values")
        self.name = name
        self.x = x
        self.y = y
    }
}

/// One set of axes with its series.
public struct PlotPanel: Equatable, Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xScale: AxisScale
    public var yScale: AxisScale
    public var series: [PlotSeries]

    public init(title: String = "", xLabel: String, yLabel: String, xScale: AxisScale = .linear,
                yScale: AxisScale = .linear, series: [PlotSeries]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xScale = xScale
        self.yScale = yScale
        self.series = series
    }

    /// The points of `series` that can be drawn on these axes: finite, and positive on a log
    /// axis. `nil` marks a skipped point, which breaks the line.
    func drawablePoints(_ series: PlotSeries) -> [(x: Double, y: Double)?] {
        zip(series.x, series.y).map { x, y in
            guard x.isFinite, y.isFinite, xScale == .linear || x > 0, yScale == .linear || y > 0 else { return nil }
            return (x, y)
        }
    }

    /// Axis ticks covering every drawable point (a unit range when there is none).
    func ticks() -> (x: AxisTicks, y: AxisTicks) {
        let points = series.flatMap { drawablePoints($0).compactMap { $0 } }
        func axis(_ values: [Double], _ scale: AxisScale) -> AxisTicks {
            guard let lo = values.min(), let hi = values.max() else {
                return scale == .linear ? AxisTicks(minimum: 0, maximum: 1, scale: .linear) : AxisTicks(minimum: 1, maximum: 10, scale: .log10)
            }
            return AxisTicks(minimum: lo, maximum: hi, scale: scale)
        }
        return (axis(points.map(\.x), xScale), axis(points.map(\.y), yScale))
    }
}

/// A line plot written as standalone SVG 1.1 text (opens in any browser, converts with
/// `rsvg-convert`): a title, one or more panels side by side, each with labelled axes, grid
/// lines at "nice" ticks (powers of ten on log axes), and series drawn as lines with markers;
/// one legend below the panels. A series name that appears in several panels keeps the same
/// colour and marker in all of them. Non-finite points (and non-positive ones on log axes)
/// are skipped and break the line. Labels are XML-escaped.
///
/// ```swift
/// let plot = SVGPlot(title: "Hyper-cleaning", panels: [
///     PlotPanel(xLabel: "seconds", yLabel: "test accuracy", series: [PlotSeries(name: "nhgd", x: t, y: acc)]),
///     PlotPanel(xLabel: "seconds", yLabel: "outer loss", yScale: .log10, series: [PlotSeries(name: "nhgd", x: t, y: loss)]),
/// ])
/// try AtomicFile.write(plot.render(), to: "plot.svg")
/// ```
public struct SVGPlot: Equatable, Sendable {
    public var title: String
    public var panels: [PlotPanel]
    public var panelWidth: Double
    public var panelHeight: Double

    public init(title: String, panels: [PlotPanel], panelWidth: Double = 480, panelHeight: Double = 360) {
        precondition(!panels.isEmpty, "a plot needs at least one panel")
        self.title = title
        self.panels = panels
        self.panelWidth = panelWidth
        self.panelHeight = panelHeight
    }

    /// Distinct colours (Tableau 10), cycled.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// Marker shapes, cycled with a period coprime to the palette's so (colour, marker) pairs
    /// stay distinct for 70 series.
    public enum Marker: CaseIterable, Sendable { case circle, square, triangle, diamond, invertedTriangle, cross, plus }

    /// Series names in order of first appearance across panels: the legend entries.
    public var legendEntries: [String] {
        var seen = Set<String>()
        return panels.flatMap(\.series).map(\.name).filter { seen.insert($0).inserted }
    }

    // Layout constants (SVG user units ≈ CSS px).
    private static let titleHeight = 36.0
    private static let margin = (left: 72.0, right: 24.0, top: 30.0, bottom: 52.0)
    private static let legendRowHeight = 22.0

    /// The SVG document.
    ///
    /// - Complexity: O(total number of points).
    public func render() -> String {
        let entries = legendEntries
        let styleIndex = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1, $0) })
        let width = panelWidth * Double(panels.count)
        let legendRows = legendLayout(entries, width: width)
        let legendHeight = Double(legendRows.count) * Self.legendRowHeight + (entries.isEmpty ? 0 : 12)
        let height = Self.titleHeight + panelHeight + legendHeight

        var svg = """
        <?xml version="1.0" encoding="UTF-8" standalone="no"?>
        <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(n(width))" height="\(n(height))" \
        viewBox="0 0 \(n(width)) \(n(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">

        """
        svg += "<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"white\"/>\n"
        svg += "<text x=\"\(n(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">\(xmlEscape(title))</text>\n"
        for (index, panel) in panels.enumerated() {
            svg += renderPanel(panel, originX: Double(index) * panelWidth, originY: Self.titleHeight, styleIndex: styleIndex)
        }
        // Legend.
        var y = Self.titleHeight + panelHeight + 8
        svg += "<g class=\"legend\">\n"
        for row in legendRows {
            for (name, x) in row {
                let style = styleIndex[name]!
                let colour = Self.palette[style % Self.palette.count]
                let cy = y + Self.legendRowHeight / 2
                svg += "<line x1=\"\(n(x))\" y1=\"\(n(cy))\" x2=\"\(n(x + 28))\" y2=\"\(n(cy))\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
                svg += marker(Self.Marker.allCases[style % Self.Marker.allCases.count], x: x + 14, y: cy, colour: colour)
                svg += "<text x=\"\(n(x + 34))\" y=\"\(n(cy + 4))\">\(xmlEscape(name))</text>\n"
            }
            y += Self.legendRowHeight
        }
        svg += "</g>\n</svg>\n"
        return svg
    }

    /// Legend entries placed left to right, wrapping to new rows, each row centred.
    private func legendLayout(_ entries: [String], width: Double) -> [[(String, Double)]] {
        func entryWidth(_ name: String) -> Double { 34 + 7 * Double(name.count) + 18 }
        var rows: [[String]] = []
        var current: [String] = []
        var used = 0.0
        for name in entries {
            if !current.isEmpty, used + entryWidth(name) > width - 40 {
                rows.append(current)
                current = []
                used = 0
            }
            current.append(name)
            used += entryWidth(name)
        }
        if !current.isEmpty { rows.append(current) }
        return rows.map { row in
            var x = (width - row.map(entryWidth).reduce(0, +)) / 2
            return row.map { name in
                defer { x += entryWidth(name) }
                return (name, x)
            }
        }
    }

    private func renderPanel(_ panel: PlotPanel, originX: Double, originY: Double, styleIndex: [String: Int]) -> String {
        let m = Self.margin
        let left = originX + m.left, right = originX + panelWidth - m.right
        let top = originY + m.top, bottom = originY + panelHeight - m.bottom
        let (xt, yt) = panel.ticks()
        func px(_ x: Double) -> Double { left + xt.fraction(of: x) * (right - left) }
        func py(_ y: Double) -> Double { bottom - yt.fraction(of: y) * (bottom - top) }

        var s = "<g class=\"panel\">\n"
        if !panel.title.isEmpty {
            s += "<text x=\"\(n((left + right) / 2))\" y=\"\(n(top - 10))\" text-anchor=\"middle\" font-size=\"13\">\(xmlEscape(panel.title))</text>\n"
        }
        // Grid and ticks.
        for (value, label) in zip(xt.values, xt.labels) {
            let x = px(value)
            s += "<line x1=\"\(n(x))\" y1=\"\(n(top))\" x2=\"\(n(x))\" y2=\"\(n(bottom))\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>\n"
            s += "<line x1=\"\(n(x))\" y1=\"\(n(bottom))\" x2=\"\(n(x))\" y2=\"\(n(bottom + 5))\" stroke=\"black\" stroke-width=\"1\"/>\n"
            s += "<text class=\"x-tick\" x=\"\(n(x))\" y=\"\(n(bottom + 18))\" text-anchor=\"middle\">\(xmlEscape(label))</text>\n"
        }
        for (value, label) in zip(yt.values, yt.labels) {
            let y = py(value)
            s += "<line x1=\"\(n(left))\" y1=\"\(n(y))\" x2=\"\(n(right))\" y2=\"\(n(y))\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>\n"
            s += "<line x1=\"\(n(left - 5))\" y1=\"\(n(y))\" x2=\"\(n(left))\" y2=\"\(n(y))\" stroke=\"black\" stroke-width=\"1\"/>\n"
            s += "<text class=\"y-tick\" x=\"\(n(left - 8))\" y=\"\(n(y + 4))\" text-anchor=\"end\">\(xmlEscape(label))</text>\n"
        }
        // Frame and axis labels.
        s += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(right - left))\" height=\"\(n(bottom - top))\" fill=\"none\" stroke=\"black\" stroke-width=\"1\"/>\n"
        s += "<text class=\"x-label\" x=\"\(n((left + right) / 2))\" y=\"\(n(bottom + 40))\" text-anchor=\"middle\" font-size=\"13\">\(xmlEscape(panel.xLabel))</text>\n"
        let yLabelX = originX + 18, yLabelY = (top + bottom) / 2
        s += "<text class=\"y-label\" x=\"\(n(yLabelX))\" y=\"\(n(yLabelY))\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 \(n(yLabelX)) \(n(yLabelY)))\">\(xmlEscape(panel.yLabel))</text>\n"

        // Series: a polyline per unbroken run of drawable points, markers on a subset.
        for series in panel.series {
            let style = styleIndex[series.name] ?? 0
            let colour = Self.palette[style % Self.palette.count]
            let shape = Self.Marker.allCases[style % Self.Marker.allCases.count]
            let points = panel.drawablePoints(series)
            s += "<g class=\"series\" stroke=\"\(colour)\">\n"
            var run: [String] = []
            func flush() {
                if run.count > 1 {
                    s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"\(run.joined(separator: " "))\"/>\n"
                }
                run.removeAll()
            }
            for point in points {
                if let point { run.append("\(n(px(point.x))),\(n(py(point.y)))") } else { flush() }
            }
            flush()
            let drawable = points.enumerated().compactMap { i, p in p.map { (i, $0) } }
            let every = max(1, (drawable.count + 19) / 20)
            for (k, (_, point)) in drawable.enumerated() where k % every == 0 || k == drawable.count - 1 {
                s += marker(shape, x: px(point.x), y: py(point.y), colour: colour)
            }
            s += "</g>\n"
        }
        if panel.series.allSatisfy({ panel.drawablePoints($0).allSatisfy { $0 == nil } }) {
            s += "<text x=\"\(n((left + right) / 2))\" y=\"\(n((top + bottom) / 2))\" text-anchor=\"middle\" fill=\"#808080\">no data</text>\n"
        }
        s += "</g>\n"
        return s
    }

    private func marker(_ shape: Marker, x: Double, y: Double, colour: String) -> String {
        let r = 3.5
        func polygon(_ pts: [(Double, Double)]) -> String {
            "<polygon points=\"\(pts.map { "\(n(x + $0.0)),\(n(y + $0.1))" }.joined(separator: " "))\" fill=\"\(colour)\" stroke=\"none\"/>\n"
        }
        switch shape {
        case .circle: return "<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"\(n(r))\" fill=\"\(colour)\" stroke=\"none\"/>\n"
        case .square: return "<rect x=\"\(n(x - r))\" y=\"\(n(y - r))\" width=\"\(n(2 * r))\" height=\"\(n(2 * r))\" fill=\"\(colour)\" stroke=\"none\"/>\n"
        case .triangle: return polygon([(0, -r * 1.2), (r * 1.1, r * 0.9), (-r * 1.1, r * 0.9)])
        case .invertedTriangle: return polygon([(0, r * 1.2), (r * 1.1, -r * 0.9), (-r * 1.1, -r * 0.9)])
        case .diamond: return polygon([(0, -r * 1.3), (r * 1.1, 0), (0, r * 1.3), (-r * 1.1, 0)])
        case .cross:
            return "<path d=\"M\(n(x - r)),\(n(y - r)) L\(n(x + r)),\(n(y + r)) M\(n(x - r)),\(n(y + r)) L\(n(x + r)),\(n(y - r))\" stroke=\"\(colour)\" stroke-width=\"2\" fill=\"none\"/>\n"
        case .plus:
            return "<path d=\"M\(n(x - r)),\(n(y)) L\(n(x + r)),\(n(y)) M\(n(x)),\(n(y - r)) L\(n(x)),\(n(y + r))\" stroke=\"\(colour)\" stroke-width=\"2\" fill=\"none\"/>\n"
        }
    }

    /// A coordinate with two decimals.
    private func n(_ v: Double) -> String { String(format: "%.2f", v) }
}

/// `text` with the five XML special characters replaced by entities, and characters XML 1.0
/// forbids (controls other than tab, LF, CR) dropped, so any label yields well-formed XML.
public func xmlEscape(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    for c in text.unicodeScalars {
        switch c {
        case "&": out.append(contentsOf: "&amp;".unicodeScalars)
        case "<": out.append(contentsOf: "&lt;".unicodeScalars)
        case ">": out.append(contentsOf: "&gt;".unicodeScalars)
        case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
        case "'": out.append(contentsOf: "&apos;".unicodeScalars)
        case "\t", "\n", "\r": out.append(c)
        case let c where c.value < 0x20 || c.value == 0xFFFE || c.value == 0xFFFF: continue
        default: out.append(c)
        }
    }
    return String(out)
}
