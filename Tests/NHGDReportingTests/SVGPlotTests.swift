import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import NHGDReporting
import Testing

/// Parses XML with Foundation's XMLParser, collecting elements, attributes and text.
final class XMLCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private var current = ""

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        elements.append((elementName, attributeDict))
        current = ""
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        if elementName == "text" { texts.append(current) }
        current = ""
    }

    /// Parses `svg`; records an issue with the parser's error if it is not well-formed.
    static func parse(_ svg: String, sourceLocation: SourceLocation = #_sourceLocation) -> XMLCollector? {
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = XMLCollector()
        parser.delegate = collector
        guard parser.parse() else {
            Issue.record("not well-formed XML: \(String(describing: parser.parserError)) at line \(parser.lineNumber)", sourceLocation: sourceLocation)
            return nil
        }
        return collector
    }
}

@Suite("SVGPlot")
struct SVGPlotTests {
    static let times = (0..<50).map { Double($0) * 0.1 }

    static func twoPanelPlot() -> SVGPlot {
        let t = times
        return SVGPlot(title: "Cleaning <MNIST> & friends", panels: [
            PlotPanel(title: "accuracy", xLabel: "time (s)", yLabel: "test accuracy", series: [
                PlotSeries(name: "nhgd", x: t, y: t.map { 0.9 - 0.4 * exp(-$0) }),
                PlotSeries(name: "cg \"warm\"", x: t, y: t.map { 0.88 - 0.4 * exp(-$0 / 2) }),
            ]),
            PlotPanel(title: "loss", xLabel: "time (s)", yLabel: "outer loss", yScale: .log10, series: [
                PlotSeries(name: "nhgd", x: t, y: t.map { exp(-$0) }),
                PlotSeries(name: "cg \"warm\"", x: t, y: t.enumerated().map { $0.offset == 10 ? .nan : exp(-$0.element / 2) }),
            ]),
        ])
    }

    @Test func isWellFormedSVGWithLabelsAndLegend() throws {
        let svg = Self.twoPanelPlot().render()
        #expect(svg.hasPrefix("<?xml version=\"1.0\""))
        let xml = try #require(XMLCollector.parse(svg))
        let root = try #require(xml.elements.first)
        #expect(root.name == "svg")
        #expect(root.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(root.attributes["version"] == "1.1")
        // Escaped labels come back verbatim through the XML parser.
        #expect(xml.texts.contains("Cleaning <MNIST> & friends"))
        for label in ["time (s)", "test accuracy", "outer loss", "accuracy", "loss"] {
            #expect(xml.texts.contains(label), "label \(label)")
        }
        // One legend entry per distinct series name, not per panel.
        #expect(xml.texts.filter { $0 == "nhgd" }.count == 1)
        #expect(xml.texts.filter { $0 == "cg \"warm\"" }.count == 1)
        #expect(Self.twoPanelPlot().legendEntries == ["nhgd", "cg \"warm\""])
    }

    @Test func seriesGetDistinctColoursAndTheNaNBreaksTheLine() throws {
        let xml = try #require(XMLCollector.parse(Self.twoPanelPlot().render()))
        let polylines = xml.elements.filter { $0.name == "polyline" }
        // Panel 1: two lines; panel 2: nhgd whole, cg split in two by the NaN.
        #expect(polylines.count == 5)
        let colours = Set(polylines.compactMap { $0.attributes["stroke"] })
        #expect(colours.count == 2)
        let pointCounts = polylines.map { $0.attributes["points"]!.split(separator: " ").count }
        #expect(pointCounts == [50, 50, 50, 10, 39])
    }

    @Test func logAxisTicksArePowersOfTen() throws {
        let panel = PlotPanel(xLabel: "n", yLabel: "seconds", xScale: .log10, yScale: .log10, series: [
            PlotSeries(name: "cost", x: [100, 1000, 10_000, 0, -5], y: [0.003, 0.2, 15, 1, 1]),
        ])
        let svg = SVGPlot(title: "scaling", panels: [panel]).render()
        let xml = try #require(XMLCollector.parse(svg))
        let xTicks = xml.elements.indices.filter { xml.elements[$0].attributes["class"] == "x-tick" }
        #expect(xTicks.count == 3)
        #expect(xml.texts.contains("100") && xml.texts.contains("10000") && xml.texts.contains("0.001"))
        // The non-positive x points are skipped: only the three valid points are drawn.
        let polyline = try #require(xml.elements.first { $0.name == "polyline" })
        #expect(polyline.attributes["points"]!.split(separator: " ").count == 3)
    }

    @Test func emptyAndDegeneratePanelsStillRender() throws {
        let svg = SVGPlot(title: "", panels: [
            PlotPanel(xLabel: "x", yLabel: "y", series: [PlotSeries(name: "nothing", x: [1, 2], y: [.nan, .infinity])]),
            PlotPanel(xLabel: "x", yLabel: "y", series: [PlotSeries(name: "flat", x: [3, 3], y: [5, 5])]),
        ]).render()
        let xml = try #require(XMLCollector.parse(svg))
        #expect(xml.texts.contains("no data"))
        #expect(!svg.contains("nan") && !svg.contains("inf"))
    }

    @Test func xmlEscaping() {
        #expect(xmlEscape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;")
        #expect(xmlEscape("bell\u{07}tab\t") == "belltab\t")
    }
}

@Suite("AxisTicks")
struct AxisTicksTests {
    @Test func linearTicksAreNiceAndCoverTheData() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let scale = pow(10, Double.random(in: -6...6, using: &rng))
            let a = Double.random(in: -1...1, using: &rng) * scale, b = Double.random(in: -1...1, using: &rng) * scale
            let ticks = AxisTicks(minimum: min(a, b), maximum: max(a, b), scale: .linear)
            #expect(ticks.lower <= min(a, b) && ticks.upper >= max(a, b), "\(a) \(b) → \(ticks)")
            #expect((2...12).contains(ticks.values.count), "\(a) \(b) → \(ticks.values)")
            let step = ticks.values[1] - ticks.values[0]
            let mantissa = step / pow(10, floor(log10(step)))
            #expect([1, 2, 5, 10].contains { abs(mantissa - Double($0)) < 1e-6 }, "step \(step)")
            #expect(Set(ticks.labels).count == ticks.labels.count, "labels \(ticks.labels) distinct")
        }
        let unit = AxisTicks(minimum: 0, maximum: 1, scale: .linear)
        #expect(unit.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test func logTicksArePowersOfTen() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let a = pow(10, Double.random(in: -20...20, using: &rng)), b = pow(10, Double.random(in: -20...20, using: &rng))
            let ticks = AxisTicks(minimum: min(a, b), maximum: max(a, b), scale: .log10)
            #expect(ticks.lower <= min(a, b) && ticks.upper >= max(a, b))
            #expect(ticks.values.count >= 2)
            for v in ticks.values {
                let k = log10(v).rounded()
                #expect(v == Double("1e\(Int(k))"), "\(v) is not a power of ten")
            }
        }
        #expect(AxisTicks(minimum: 0.02, maximum: 300, scale: .log10).labels == ["0.01", "0.1", "1", "10", "100", "1000"])
        #expect(AxisTicks(minimum: 5, maximum: 5, scale: .log10).values == [1, 10])
    }
}
