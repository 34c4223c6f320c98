/// Comma-separated values as RFC 4180 defines them: records end in CRLF; a field that holds
/// a comma, a double quote, CR or LF is enclosed in double quotes, with inner quotes doubled.
///
/// ```swift
/// var csv = CSVWriter(header: ["iteration", "note"])
/// csv.append(["1", "said \"hi\", then left"])
/// csv.text   // "iteration,note\r\n1,\"said \"\"hi\"\", then left\"\r\n"
/// ```
public struct CSVWriter: Sendable {
    public let header: [String]
    public private(set) var text: String

    public init(header: [String]) {
        precondition(!header.isEmpty, "a CSV file needs at least one column")
        self.header = header
        self.text = ""
        appendRecord(header)
    }

    /// Appends one record; it must have as many fields as the header.
    public mutating func append(_ fields: [String]) {
        precondition(fields.count == header.count, "record has \(fields.count) fields, header has \(header.count)")
        appendRecord(fields)
    }

    private mutating func appendRecord(_ fields: [String]) {
        text += fields.map(Self.escape).joined(separator: ",")
        text += "\r\n"
    }

    /// The field as RFC 4180 writes it: quoted only when needed.
    public static func escape(_ field: String) -> String {
        let needsQuotes = field.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
        guard needsQuotes else { return field }
        return "\"" + doublingQuotes(field) + "\""
    }

    private static func doublingQuotes(_ field: String) -> String {
        var out = String.UnicodeScalarView()
        for c in field.unicodeScalars {
            out.append(c)
            if c == "\"" { out.append(c) }
        }
        return String(out)
    }

    /// A number in shortest round-trip form; non-finite values as `nan`, `inf`, `-inf`
    /// (what spreadsheet and dataframe readers accept).
    public static func field(_ x: Double) -> String {
        x.isNaN ? "nan" : x.description
    }
}

/// A malformed CSV text.
public struct CSVParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based line of the problem.
    public var line: Int
    public var reason: String
    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }
    public var description: String { "line \(line): \(reason)" }
}

/// Parses RFC 4180 text (CRLF or LF line ends; quoted fields may hold commas, quotes and line
/// breaks) into records of fields. A final line break is optional; empty lines are skipped.
///
/// - Complexity: O(length of the text).
public func parseCSV(_ text: String) throws(CSVParseError) -> [[String]] {
    var records: [[String]] = []
    var record: [String] = []
    var field: [Unicode.Scalar] = []
    var line = 1
    var inQuotes = false
    var fieldWasQuoted = false
    var scalars = text.unicodeScalars.makeIterator()
    var pending: Unicode.Scalar? = nil

    func endField() {
        record.append(String(String.UnicodeScalarView(field)))
        field.removeAll(keepingCapacity: true)
        fieldWasQuoted = false
    }
    func endRecord() {
        endField()
        if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
        record.removeAll()
    }

    while let c = pending ?? scalars.next() {
        pending = nil
        if inQuotes {
            if c == "\"" {
                let next = scalars.next()
                if next == "\"" { field.append("\"") } else { inQuotes = false; pending = next }
            } else {
                if c == "\n" { line += 1 }
                field.append(c)
            }
            continue
        }
        switch c {
        case "\"":
            guard field.isEmpty, !fieldWasQuoted else { throw CSVParseError(line: line, reason: "quote inside an unquoted field") }
            inQuotes = true
            fieldWasQuoted = true
        case ",":
            endField()
        case "\r":
            let next = scalars.next()
            if next != "\n" { pending = next }
            endRecord()
            line += 1
        case "\n":
            endRecord()
            line += 1
        default:
            if fieldWasQuoted { throw CSVParseError(line: line, reason: "text after a closing quote") }
            field.append(c)
        }
    }
    if inQuotes { throw CSVParseError(line: line, reason: "unterminated quoted field") }
    if !field.isEmpty || !record.isEmpty || fieldWasQuoted { endRecord() }
    return records
}
