/// A table of text cells with aligned columns for terminal output.
///
/// A column whose body cells all read as numbers (optionally with a unit or `%`, such as
/// `91.2%` or `1.5 ms`; empty cells and `-` are ignored) is right-aligned, header included;
/// other columns are left-aligned. Widths count characters (grapheme clusters).
///
/// ```
/// estimator  seconds  accuracy
/// ---------  -------  --------
/// nhgd          1.23     91.2%
/// cg            4.56     90.8%
/// ```
public struct TextTable: Sendable {
    public enum Alignment: Sendable { case left, right }

    public let headers: [String]
    public private(set) var rows: [[String]] = []

    public init(headers: [String]) {
        precondition(!headers.isEmpty, "a table needs at least one column")
        self.headers = headers
    }

    /// Appends a row; it must have one cell per column.
    public mutating func append(_ row: [String]) {
        precondition(row.count == headers.count, "row has \(row.count) cells, table has \(headers.count) columns")
        rows.append(row)
    }

    /// The alignment each column gets (see the type's description).
    public var alignments: [Alignment] {
        headers.indices.map { column in
            let cells = rows.map { $0[column] }.filter { !$0.isEmpty && $0 != "-" }
            return !cells.isEmpty && cells.allSatisfy(Self.readsAsNumber) ? .right : .left
        }
    }

    /// The table as lines joined by `\n` (with a final newline): header, a rule of dashes, rows.
    /// Columns are separated by `separator`; trailing spaces are trimmed.
    public func render(separator: String = "  ") -> String {
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max()!
        }
        let alignments = self.alignments
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return alignments[column] == .right ? pad + cell : cell + pad
            }
            var text = padded.joined(separator: separator)
            while text.last == " " { text.removeLast() }
            return text
        }
        var lines = [line(headers), line(widths.map { String(repeating: "-", count: $0) })]
        lines.append(contentsOf: rows.map(line))
        return lines.joined(separator: "\n") + "\n"
    }

    /// A number, possibly followed by a space-separated unit or a `%`: `-1.5e-3`, `91.2%`, `12 ms`.
    static func readsAsNumber(_ cell: String) -> Bool {
        var head = Substring(cell.split(separator: " ", maxSplits: 1).first ?? "")
        if head.hasSuffix("%") { head = head.dropLast() }
        if head == "nan" || head == "inf" || head == "-inf" { return true }
        guard let first = head.first, first.isNumber || first == "-" || first == "+" || first == "." else { return false }
        return Double(head) != nil
    }
}
