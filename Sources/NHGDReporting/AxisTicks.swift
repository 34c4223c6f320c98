import Foundation

/// How an axis maps data to position.
public enum AxisScale: Equatable, Sendable {
    case linear
    /// Base-10 logarithmic; only positive values can be shown.
    case log10
}

/// The range an axis shows and where its ticks go.
public struct AxisTicks: Equatable, Sendable {
    public var lower: Double
    public var upper: Double
    public var values: [Double]
    public var scale: AxisScale

    /// Ticks for data in `[minimum, maximum]`.
    ///
    /// Linear: Heckbert's "nice numbers" (Graphics Gems, 1990): the step is 1, 2 or 5 times a
    /// power of ten, chosen so about `targetCount` ticks cover the data, and the range is
    /// widened to whole steps. Log10: the range is widened to whole decades and ticks are the
    /// powers of ten in it (every k-th decade when there are more than `targetCount + 2`).
    /// A degenerate range (`minimum == maximum`) is widened around the value.
    public init(minimum: Double, maximum: Double, scale: AxisScale, targetCount: Int = 6) {
        precondition(minimum.isFinite && maximum.isFinite && minimum <= maximum, "tick range must be finite and ordered")
        self.scale = scale
        switch scale {
        case .linear:
            var lo = minimum, hi = maximum
            if lo == hi {
                let pad = lo == 0 ? 1 : abs(lo) * 0.1
                lo -= pad
                hi += pad
            }
            let step = Self.niceNumber((hi - lo) / Double(max(targetCount - 1, 1)), round: true)
            let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
            lower = first * step
            upper = last * step
            // Multiply integers by the step rather than accumulate, so 0.1-steps land on
            // the nearest doubles to the decimals.
            values = (Int(first)...Int(last)).map { i in
                let v = Double(i) * step
                return abs(v) < step * 1e-9 ? 0 : v
            }
        case .log10:
            precondition(minimum > 0, "a log axis needs positive values")
            let lo = Foundation.log10(minimum).rounded(.down)
            var hi = Foundation.log10(maximum).rounded(.up)
            if hi - lo < 1 { hi = lo + 1 }
            lower = Foundation.pow(10, lo)
            upper = Foundation.pow(10, hi)
            let decades = Int(hi - lo)
            let stride = max(1, Int((Double(decades) / Double(targetCount + 2)).rounded(.up)))
            values = Swift.stride(from: Int(lo), through: Int(hi), by: stride).map { Self.powerOfTen($0) }
        }
    }

    /// `10^k` exactly as its decimal literal parses (pow can be off by an ulp for negative k).
    static func powerOfTen(_ k: Int) -> Double { Double("1e\(k)")! }

    /// Heckbert's nice number: 1, 2, 5 or 10 times a power of ten near `x` (> 0).
    static func niceNumber(_ x: Double, round: Bool) -> Double {
        let exponent = Foundation.floor(Foundation.log10(x))
        let fraction = x / Foundation.pow(10, exponent)
        let nice: Double
        if round {
            nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return nice * Foundation.pow(10, exponent)
    }

    /// Position of `value` in `[0, 1]` along the axis.
    public func fraction(of value: Double) -> Double {
        switch scale {
        case .linear: return (value - lower) / (upper - lower)
        case .log10: return (Foundation.log10(value) - Foundation.log10(lower)) / (Foundation.log10(upper) - Foundation.log10(lower))
        }
    }

    /// Tick labels: decimals just fine enough for the step on linear axes (exponent form
    /// for very large or small magnitudes); plain decimals for 0.001 … 10000 on log axes and
    /// `1e-5`-style otherwise.
    public var labels: [String] {
        switch scale {
        case .log10:
            return values.map { v in
                let k = Int(Foundation.log10(v).rounded())
                if (-3...4).contains(k) { return k < 0 ? String(format: "%.\(-k)f", v) : String(format: "%.0f", v) }
                return "1e\(k)"
            }
        case .linear:
            let step = values.count > 1 ? values[1] - values[0] : 1
            let magnitude = max(abs(lower), abs(upper))
            if magnitude >= 1e6 || magnitude < 1e-3 {
                // Mantissa digits down to the step's decade keep neighbouring labels distinct.
                let digits = max(0, Int(Foundation.floor(Foundation.log10(magnitude))) - Int(Foundation.floor(Foundation.log10(step) + 1e-9)))
                return values.map { $0 == 0 ? "0" : String(format: "%.\(digits)e", $0) }
            }
            let decimals = max(0, Int(-Foundation.floor(Foundation.log10(step) + 1e-9)))
            return values.map { String(format: "%.\(decimals)f", $0) }
        }
    }
}
