import Foundation
import NaturalHypergradient
import NHGDReporting

/// The table and JSON forms of benchmark records, through NHGDReporting's `TextTable` and
/// `JSONValue` (ordered keys, NaN and ±∞ as `null`).
extension BenchmarkRecord {
    /// One JSON object: `suite`, `name`, `p`, `k`, `seconds`, `ratio` (when a limit applies),
    /// `limit`, then the metrics, labels and flags under their names, then `context`.
    func json(context: [(String, String)] = []) -> JSONValue {
        var fields: [(String, JSONValue)] = [("suite", .string(suite)), ("name", .string(name)), ("p", .integer(p)),
                                             ("k", .integer(k)), ("seconds", .finite(seconds))]
        if let ratio { fields.append(("ratio", .finite(ratio))) }
        if let limit { fields.append(("limit", .string(limit))) }
        fields += metrics.map { ($0.0, .finite($0.1)) }
        fields += labels.map { ($0.0, .string($0.1)) }
        fields += flags.map { ($0.0, .bool($0.1)) }
        fields += context.map { ($0.0, .string($0.1)) }
        return .object(fields)
    }

    /// The inverse of ``json(context:)``: numbers become metrics, strings labels, booleans flags
    /// (`ratio` and `limit` restored; `null` reads as NaN).
    init(json value: JSONValue) throws {
        guard case let .object(fields) = value else { throw BenchmarkCommandLine.Failure(description: "record is not an object") }
        self.init(suite: "", name: "", p: 0, k: 0, seconds: .nan)
        for (key, field) in fields {
            switch (key, field) {
            case ("suite", .string(let s)): suite = s
            case ("name", .string(let s)): name = s
            case ("p", _): p = Int(field.doubleValue ?? 0)
            case ("k", _): k = Int(field.doubleValue ?? 0)
            case ("seconds", _): seconds = field.doubleValue ?? .nan
            case ("ratio", _): ratio = field.doubleValue
            case ("limit", .string(let s)): limit = s
            case (_, .string(let s)): labels.append((key, s))
            case (_, .bool(let b)): flags.append((key, b))
            default: metrics.append((key, field.doubleValue ?? .nan))
            }
        }
    }

    /// A JSON array of `records`, one object per line.
    static func jsonArray(_ records: [BenchmarkRecord], context: [(String, String)] = []) -> String {
        "[\n" + records.map { "  " + $0.json(context: context).serialized() }.joined(separator: ",\n") + "\n]\n"
    }

    /// The text table the driver prints: suite, name, p, k, time, GB/s, GFLOP/s, probe GB/s, ratio, limit.
    static func table(_ records: [BenchmarkRecord]) -> String {
        var table = TextTable(headers: ["suite", "name", "p", "k", "time", "GB/s", "GFLOP/s", "probe GB/s", "ratio", "limit"])
        for r in records {
            let metric = { (key: String) in r.metrics.first { $0.0 == key }.map { String(format: "%.2f", $0.1) } ?? "" }
            table.append([r.suite, r.name, "\(r.p)", "\(r.k)", NumberFormatting.duration(r.seconds), metric("GB/s"), metric("GFLOP/s"),
                          metric("probe GB/s"), r.ratio.map { String(format: "%.2f", $0) } ?? "", r.limit ?? ""])
        }
        return table.render()
    }
}
