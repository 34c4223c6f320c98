import Foundation
import NHGDLinearAlgebra

/// The streaming parser behind ``Dataset/load(csvAt:labelInLastColumn:)``: it is fed the bytes
/// of a CSV file in pieces of any size (``consume(_:)``), parses each number straight into the
/// feature buffer as its field ends, and builds the ``Dataset`` at the end (``finish()``).
///
/// ## Memory and the limits that bound it
///
/// The reader holds the numbers parsed so far (8 bytes per value, in an array that grows by
/// doubling: at most twice the data while it grows), the labels, and one field of at most
/// ``maximumFieldBytes`` bytes; never a line or the file. The read buffer is the caller's (64 KiB
/// in ``Dataset/load(csvAt:labelInLastColumn:)``). What bounds a line:
///
/// - a **field** (the bytes between two commas or line ends, spaces included) has at most
///   ``maximumFieldBytes`` = 256 bytes: the shortest text that round-trips a `Double` has at most
///   24 characters, so this leaves room for padding and digits a writer may add, and a header
///   name longer than that is implausible;
/// - a **line** has at most ``maximumFields`` = 2²⁰ fields;
/// - once the first data line has set the column count c, a line ends in error at the comma
///   that would begin its field c + 1.
///
/// So no valid line is longer than 257·c − 1 bytes (plus its line end), and a line that is
/// longer is rejected as soon as it crosses that length (within the 64 KiB piece being parsed),
/// without reading the rest of the file: a 200 MB file of one line stops after at most 257 bytes
/// of one field or 2²⁰ fields. (Before, the whole file was decoded into a `String` and split into
/// lines and fields: 67 s and 2.3 GB for a 200 MB one-line file.)
///
/// ## The format
///
/// One sample per line: comma-separated numbers, the label in the last column (or the first).
/// A line ends with `\n`, `\r\n` or `\r`. Spaces and tabs around a field are ignored; a line of
/// only spaces and tabs is skipped. The first line is a header when one of its fields is not a
/// number. A field is a number when, without those spaces, it is exactly what `Double(_:)`
/// accepts (decimal or hexadecimal, `inf`/`nan` are numbers but refused as not finite) and
/// nothing else: any byte outside printable ASCII (a NUL, a control character, non-ASCII) makes
/// it not a number. (`Double(_:)` itself stops at a NUL, so `1.5<NUL>xyz` was read as 1.5.)
final class CSVParser {
    /// The longest field, in bytes (see the type's description).
    static let maximumFieldBytes = 256
    /// The most fields a line may have.
    static let maximumFields = 1 << 20

    private let file: String
    private let labelInLastColumn: Bool
    /// The current field's bytes (those read so far); at most ``maximumFieldBytes``.
    private let field = UnsafeMutablePointer<UInt8>.allocate(capacity: CSVParser.maximumFieldBytes)
    private var fieldLength = 0
    /// 1-based number of the current line.
    private var line = 1
    /// Fields of the current line that have ended.
    private var fields = 0
    /// Whether the current line has anything but spaces and tabs (a comma counts).
    private var lineHasContent = false
    /// The previous byte was `\r`: a `\n` right after it ends no second line.
    private var afterCarriageReturn = false
    /// Line 1 turned out to be a header: its remaining fields are counted, not parsed.
    private var inHeader = false
    /// Set by the first data line.
    private var columnCount: Int?
    /// Features of every data line so far, sample after sample (column-major d × n).
    private var values: [Double] = []
    private var labels: [Double] = []
    /// The label of the current line when it is in the first column.
    private var firstColumnLabel = 0.0

    /// A parser for a file called `file` in messages.
    init(file: String, labelInLastColumn: Bool) {
        self.file = file
        self.labelInLastColumn = labelInLastColumn
    }

    deinit { field.deallocate() }

    private func fail(_ reason: String) -> DataError { .file(path: file, reason: reason) }

    /// Parses the next `bytes` of the file.
    /// - Throws: ``DataError/file(path:reason:)`` at the first malformed field or line, or
    ///   as soon as a field or line crosses its limit.
    func consume(_ bytes: UnsafeRawBufferPointer) throws(DataError) {
        for byte in bytes {
            if afterCarriageReturn {
                afterCarriageReturn = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                afterCarriageReturn = byte == UInt8(ascii: "\r")
                try endLine()
            case UInt8(ascii: ","):
                lineHasContent = true
                try endField()
                // A comma after the last field a line may have: a field too many has begun.
                if let expected = columnCount, fields == expected {
                    throw fail("line \(line): expected \(expected) fields, found more than \(expected)")
                }
                if fields == Self.maximumFields { throw fail("line \(line): more than \(Self.maximumFields) fields") }
            default:
                if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") { lineHasContent = true }
                guard fieldLength < Self.maximumFieldBytes else {
                    throw fail("line \(line), column \(fields + 1): field longer than \(Self.maximumFieldBytes) bytes")
                }
                field[fieldLength] = byte
                fieldLength += 1
            }
        }
    }

    /// The data set, once every byte has been consumed.
    /// - Throws: ``DataError/file(path:reason:)`` for a malformed last line, or when there is
    ///   no data line.
    func finish() throws(DataError) -> Dataset {
        try endLine()  // a last line without a line end (a no-op after one)
        guard let columns = columnCount, !labels.isEmpty else { throw fail("no data rows") }
        let classes = Array(Set(labels)).sorted()
        var classIndex = [Double: Int]()
        for (k, value) in classes.enumerated() { classIndex[value] = k }
        // Cannot throw: every data line appended exactly `columns − 1` features.
        let features = try! Matrix(rows: columns - 1, columns: labels.count, storage: values)
        let name = (file as NSString).deletingPathExtension
        return Dataset(unchecked: name, features: features, labels: labels.map { classIndex[$0]! },
                       classCount: classes.count, labelNames: classes.map { String(Int($0)) })
    }

    /// The field that just ended (at a comma or a line end).
    private func endField() throws(DataError) {
        defer { fieldLength = 0 }
        let column = fields + 1
        fields = column
        if inHeader { return }
        guard let value = number() else {
            if line == 1 {
                // A header: forget what line 1 parsed so far, count its other fields.
                inHeader = true
                values.removeAll(keepingCapacity: true)
                return
            }
            throw fail("line \(line), column \(column): '\(shownField())' is not a number")
        }
        guard value.isFinite else { throw fail("line \(line), column \(column): value is not finite") }
        if !labelInLastColumn && column == 1 {
            firstColumnLabel = value
        } else {
            values.append(value)
        }
    }

    /// The line that just ended (at a line end, or at the end of the file).
    private func endLine() throws(DataError) {
        defer {
            line += 1
            fields = 0
            fieldLength = 0
            lineHasContent = false
            inHeader = false
        }
        guard lineHasContent else { return }  // blank
        try endField()
        if inHeader { return }
        if let expected = columnCount {
            guard fields == expected else { throw fail("line \(line): expected \(expected) fields, found \(fields)") }
        } else {
            guard fields >= 2 else {
                throw fail("line \(line): need at least one feature and a label, found \(fields) field")
            }
            columnCount = fields
        }
        let label = labelInLastColumn ? values.removeLast() : firstColumnLabel
        guard label.rounded() == label, abs(label) < 1e15 else {
            throw fail("line \(line), column \(labelInLastColumn ? fields : 1): label \(label) is not an integer")
        }
        labels.append(label)
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// The current field without the spaces and tabs around it.
    private func trimmed() -> UnsafeBufferPointer<UInt8> {
        var start = 0, end = fieldLength
        while start < end && Self.isBlank(field[start]) { start += 1 }
        while end > start && Self.isBlank(field[end - 1]) { end -= 1 }
        return UnsafeBufferPointer(start: field + start, count: end - start)
    }

    /// The current field's value if it is exactly a number, else `nil`.
    private func number() -> Double? {
        let text = trimmed()
        guard !text.isEmpty else { return nil }
        // Integers of up to 15 digits (MNIST's pixels, labels) are exact in binary64: no strtod.
        var negative = false, digits = text[...]
        if text[0] == UInt8(ascii: "-") || text[0] == UInt8(ascii: "+") {
            negative = text[0] == UInt8(ascii: "-")
            digits = text[1...]
        }
        if !digits.isEmpty && digits.count <= 15 && digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) {
            var integer = 0
            for digit in digits { integer = integer * 10 + Int(digit &- UInt8(ascii: "0")) }
            return negative ? -Double(integer) : Double(integer)
        }
        // `Double(_:)` reads a C string and stops at a NUL: refuse every byte that cannot be part
        // of a number's text (controls, NUL, spaces, non-ASCII) before asking it.
        guard text.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return Double(String(decoding: text, as: UTF8.self))
    }

    /// The current field (trimmed) for a message, control characters written as `\u{…}`.
    private func shownField() -> String {
        var shown = ""
        for scalar in String(decoding: trimmed(), as: UTF8.self).unicodeScalars {
            if scalar.properties.generalCategory == .control {
                shown += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }
}
