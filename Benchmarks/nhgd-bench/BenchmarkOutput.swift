import Foundation

/// The table and JSON forms of a list of records (local; NHGDReporting's writers can replace
/// these without changing the record format).
enum BenchmarkOutput {
    /// A JSON array with one object per record: `suite`, `name`, `p`, `k`, `seconds`, `ratio`
    /// (when a limit applies), `limit`, then the metrics under their names.
    static func json(_ records: [BenchmarkRecord], context: [(String, String)] = []) -> String {
        let objects = records.map { r -> String in
            var fields = ["\"suite\": \(quote(r.suite))", "\"name\": \(quote(r.name))", "\"p\": \(r.p)", "\"k\": \(r.k)",
                          "\"seconds\": \(number(r.seconds))"]
            if let ratio = r.ratio { fields.append("\"ratio\": \(number(ratio))") }
            if let limit = r.limit { fields.append("\"limit\": \(quote(limit))") }
            for (key, value) in r.metrics { fields.append("\(quote(key)): \(number(value))") }
            for (key, value) in r.labels { fields.append("\(quote(key)): \(quote(value))") }
            for (key, value) in r.flags { fields.append("\(quote(key)): \(value)") }
            for (key, value) in context { fields.append("\(quote(key)): \(quote(value))") }
            return "  {" + fields.joined(separator: ", ") + "}"
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    /// JSON has no NaN or infinity: they become `null`.
    static func number(_ x: Double) -> String {
        x.isFinite ? "\(x)" : "null"
    }

    /// A fixed-width text table.
    static func table(_ records: [BenchmarkRecord]) -> String {
        let header = ["suite", "name", "p", "k", "time", "GB/s", "GFLOP/s", "probe GB/s", "ratio", "limit"]
        var rows = [header]
        for r in records {
            let metric = { (key: String) in r.metrics.first { $0.0 == key }.map { String(format: "%.2f", $0.1) } ?? "" }
            rows.append([r.suite, r.name, "\(r.p)", "\(r.k)", formatSeconds(r.seconds), metric("GB/s"), metric("GFLOP/s"), metric("probe GB/s"),
                         r.ratio.map { String(format: "%.2f", $0) } ?? "", r.limit ?? ""])
        }
        let widths = header.indices.map { j in rows.map { $0[j].count }.max()! }
        let numeric: Set<Int> = [2, 3, 4, 5, 6, 7, 8]
        return rows.enumerated().map { index, row in
            let line = row.enumerated().map { j, cell in
                let pad = String(repeating: " ", count: widths[j] - cell.count)
                return numeric.contains(j) ? pad + cell : cell + pad
            }.joined(separator: "  ")
            return index == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
        }.joined(separator: "\n")
    }

    static func formatSeconds(_ s: Double) -> String {
        if s >= 1 { return String(format: "%.2f s", s) }
        if s >= 1e-3 { return String(format: "%.2f ms", s * 1e3) }
        return String(format: "%.1f µs", s * 1e6)
    }
}
