/// A JSON value whose objects keep their keys in the order they were built.
///
/// Foundation's `JSONSerialization` reorders keys and refuses NaN; reports need a stable key
/// order (so diffs and the last line of `nhgd` read the same every run) and must survive a
/// diverged run. Serialisation rules:
/// - numbers are written in Swift's shortest round-trip form (`Double.description`), so
///   parsing the text gives back the same `Double` bit for bit; integers exactly;
/// - NaN and ±∞ become `null` (JSON has no spelling for them);
/// - strings escape `"`, `\` and every control character below U+0020.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Key–value pairs in order. Keys should be distinct; ``serialized(pretty:)`` writes them as given.
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// `.number(x)`, or `.null` when `x` is not finite.
    public static func finite(_ x: Double) -> JSONValue { x.isFinite ? .number(x) : .null }

    /// The value of `key` in an object (the first one, if repeated).
    public subscript(key: String) -> JSONValue? {
        guard case let .object(pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// The numeric value of `.integer` or `.number`.
    public var doubleValue: Double? {
        switch self {
        case let .integer(i): return Double(i)
        case let .number(x): return x
        default: return nil
        }
    }

    /// The JSON text: compact on one line, or indented by two spaces when `pretty`.
    ///
    /// - Complexity: O(size of the output).
    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(to: &out, pretty: pretty, depth: 0)
        return out
    }

    private func write(to out: inout String, pretty: Bool, depth: Int) {
        let newline = pretty ? "\n" + String(repeating: "  ", count: depth + 1) : ""
        let closing = pretty ? "\n" + String(repeating: "  ", count: depth) : ""
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .integer(i): out += String(i)
        case let .number(x): out += Self.numberText(x)
        case let .string(s): Self.writeString(s, to: &out)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                out += (i == 0 ? "" : ",") + newline
                item.write(to: &out, pretty: pretty, depth: depth + 1)
            }
            out += closing + "]"
        case let .object(pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (key, value)) in pairs.enumerated() {
                out += (i == 0 ? "" : ",") + newline
                Self.writeString(key, to: &out)
                out += pretty ? ": " : ":"
                value.write(to: &out, pretty: pretty, depth: depth + 1)
            }
            out += closing + "}"
        }
    }

    /// Shortest round-trip text of a finite double, in JSON syntax (`null` otherwise).
    static func numberText(_ x: Double) -> String {
        guard x.isFinite else { return "null" }
        // Swift's description is the shortest round-trip form ("0.1", "1e-05", "1e+20",
        // "-0.0"), already valid JSON.
        return x.description
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { serialized() }
}
