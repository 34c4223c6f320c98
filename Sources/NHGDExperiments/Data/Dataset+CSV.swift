import Foundation
import NHGDLinearAlgebra

extension Dataset {
    /// Loads a user's data set from a CSV file: one sample per line, comma-separated numbers,
    /// the label in the last column (or the first when `labelInLastColumn` is false).
    ///
    /// - The first line is treated as a header when any of its fields is not a number.
    /// - Blank lines are skipped; `\r\n` line ends are accepted.
    /// - Labels may be any numbers that are integers (for example `-1`/`1` or `0…9`); the
    ///   distinct values, sorted ascending, become the classes `0..<K`, and their text the
    ///   ``labelNames`` (so `-1, 1` map to `0, 1`).
    ///
    /// - Throws: ``DataError/file(path:reason:)`` naming the line and column of the first
    ///   malformed field (not a number, NaN/∞, a non-integer label) or of a row with the wrong
    ///   number of fields; for a missing or empty file; or when there are fewer than two columns.
    /// - Complexity: O(file size).
    public static func load(csvAt url: URL, labelInLastColumn: Bool = true) throws -> Dataset {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError.file(path: url.path, reason: "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataError.file(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        return try parseCSV(data, file: url.lastPathComponent, labelInLastColumn: labelInLastColumn)
    }

    /// Parses CSV bytes (see ``load(csvAt:labelInLastColumn:)``); `file` names it in errors.
    static func parseCSV(_ data: Data, file: String, labelInLastColumn: Bool) throws -> Dataset {
        func fail(_ reason: String) -> DataError { .file(path: file, reason: reason) }
        guard let text = String(data: data, encoding: .utf8) else { throw fail("not UTF-8 text") }
        var values = [Double]()
        var rawLabels = [Double]()
        var columnCount: Int?
        var sawData = false
        for (lineIndex, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline }).enumerated() {
            // "\r\n" is one Character (a grapheme cluster), so it ends a line like "\n".
            let lineNumber = lineIndex + 1
            let line = rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            let parsed = fields.map { Double($0.trimmingCharacters(in: .whitespaces)) }
            if !sawData && lineNumber == 1 && parsed.contains(where: { $0 == nil }) {
                continue  // a header line
            }
            sawData = true
            if let expected = columnCount {
                guard fields.count == expected else {
                    throw fail("line \(lineNumber): expected \(expected) fields, found \(fields.count)")
                }
            } else {
                guard fields.count >= 2 else {
                    throw fail("line \(lineNumber): need at least one feature and a label, found \(fields.count) field")
                }
                columnCount = fields.count
            }
            let labelColumn = labelInLastColumn ? fields.count - 1 : 0
            for (column, value) in parsed.enumerated() {
                guard let value else {
                    let shown = fields[column].trimmingCharacters(in: .whitespaces)
                    throw fail("line \(lineNumber), column \(column + 1): '\(shown)' is not a number")
                }
                guard value.isFinite else {
                    throw fail("line \(lineNumber), column \(column + 1): value is not finite")
                }
                if column == labelColumn {
                    guard value.rounded() == value, abs(value) < 1e15 else {
                        throw fail("line \(lineNumber), column \(column + 1): label \(value) is not an integer")
                    }
                    rawLabels.append(value)
                } else {
                    values.append(value)
                }
            }
        }
        guard let columns = columnCount, !rawLabels.isEmpty else { throw fail("no data rows") }
        let classes = Array(Set(rawLabels)).sorted()
        var classIndex = [Double: Int]()
        for (k, value) in classes.enumerated() { classIndex[value] = k }
        let features = try Matrix(rows: columns - 1, columns: rawLabels.count, storage: values)
        let name = (file as NSString).deletingPathExtension
        return Dataset(unchecked: name, features: features, labels: rawLabels.map { classIndex[$0]! },
                       classCount: classes.count, labelNames: classes.map { String(Int($0)) })
    }
}
