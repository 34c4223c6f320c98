import Foundation

/// Number formatting for terminal tables and progress lines.
public enum NumberFormatting {
    /// `x` to `digits` significant digits in the style of C's `%g`: fixed notation for
    /// moderate magnitudes, exponent notation otherwise (`0.001235`, `1.235e+07`); `nan`,
    /// `inf`, `-inf` for non-finite values.
    public static func significant(_ x: Double, digits: Int = 4) -> String {
        precondition(digits >= 1, "at least one significant digit")
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        return String(format: "%.\(digits)g", x)
    }

    /// A fraction as a percentage with `decimals` decimals: `0.9123 → "91.2%"`.
    public static func percent(_ fraction: Double, decimals: Int = 1) -> String {
        guard fraction.isFinite else { return significant(fraction) }
        return String(format: "%.\(decimals)f%%", fraction * 100)
    }

    /// A byte count in binary units: `512 B`, `1.5 KiB`, `3.0 MiB`.
    public static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(count.magnitude)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let sign = count < 0 ? "-" : ""
        return unit == 0 ? "\(count) B" : sign + String(format: "%.1f %@", value, units[unit])
    }

    /// A duration in seconds in the most readable unit: `850 ns`, `12.3 µs`, `4.56 ms`,
    /// `1.23 s`, `2m 03s`, `1h 02m`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return significant(seconds) }
        let s = abs(seconds)
        let sign = seconds < 0 ? "-" : ""
        switch s {
        case 0: return "0 s"
        case ..<1e-6: return sign + String(format: "%.0f ns", s * 1e9)
        case ..<1e-3: return sign + threeDigits(s * 1e6) + " µs"
        case ..<1: return sign + threeDigits(s * 1e3) + " ms"
        case ..<60: return sign + threeDigits(s) + " s"
        case ..<3600:
            let total = Int(s.rounded())
            return sign + String(format: "%dm %02ds", total / 60, total % 60)
        default:
            let minutes = Int((s / 60).rounded())
            return sign + String(format: "%dh %02dm", minutes / 60, minutes % 60)
        }
    }

    /// 1 to 999.x with three significant digits: `1.23`, `12.3`, `123`.
    private static func threeDigits(_ v: Double) -> String {
        v < 10 ? String(format: "%.2f", v) : v < 100 ? String(format: "%.1f", v) : String(format: "%.0f", v)
    }
}
