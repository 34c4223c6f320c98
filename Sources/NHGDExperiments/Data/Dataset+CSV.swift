import Foundation
import NHGDLinearAlgebra

extension Dataset {
    /// Loads a user's data set from a CSV file: one sample per line, comma-separated numbers,
    /// the label in the last column (or the first when `labelInLastColumn` is false).
    ///
    /// - The first line is treated as a header when any of its fields is not a number.
    /// - Blank lines are skipped; lines end with `\n`, `\r\n` or `\r`; spaces and tabs around
    ///   a field are ignored.
    /// - A field is a number only if it is exactly one: no trailing text, no NUL or other
    ///   control byte, nothing outside printable ASCII.
    /// - Labels may be any numbers that are integers (for example `-1`/`1` or `0…9`); the
    ///   distinct values, sorted ascending, become the classes `0..<K`, and their text the
    ///   ``labelNames`` (so `-1, 1` map to `0, 1`).
    ///
    /// The file is read in 64 KiB pieces and parsed as it streams (``CSVParser``): memory is the
    /// parsed data (at most twice it while the buffer grows) plus one field, and a line longer
    /// than a valid row can be (fields of at most 256 bytes, at most as many fields as the first
    /// data line, at most 2²⁰) is rejected when it crosses that length, without reading on.
    ///
    /// - Throws: ``DataError/file(path:reason:)`` naming the line and column of the first
    ///   malformed field (not a number, NaN/∞, a non-integer label, longer than 256 bytes) or of
    ///   a row with the wrong number of fields; for a missing, unreadable or empty file; or when
    ///   there are fewer than two columns.
    /// - Complexity: O(file size) time; O(n·d) memory.
    public static func load(csvAt url: URL, labelInLastColumn: Bool = true) throws -> Dataset {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError.file(path: url.path, reason: "no such file")
        }
        func unreadable(_ code: Int32) -> DataError {
            .file(path: url.path, reason: "cannot read the file (\(String(cString: strerror(code))))")
        }
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw unreadable(errno) }
        defer { close(descriptor) }
        let parser = CSVParser(file: url.lastPathComponent, labelInLastColumn: labelInLastColumn)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: csvChunkBytes, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw unreadable(errno)
            }
            if count == 0 { break }
            try parser.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return try parser.finish()
    }

    /// The size of the pieces ``load(csvAt:labelInLastColumn:)`` reads.
    static let csvChunkBytes = 1 << 16

    /// Parses CSV bytes (see ``load(csvAt:labelInLastColumn:)``), handed to the parser in pieces
    /// of `chunkBytes` as a file would be; `file` names it in errors. The result does not depend
    /// on `chunkBytes` (tested, and checked by the fuzz target).
    static func parseCSV(_ data: Data, file: String, labelInLastColumn: Bool, chunkBytes: Int = csvChunkBytes) throws -> Dataset {
        let parser = CSVParser(file: file, labelInLastColumn: labelInLastColumn)
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws in
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + max(1, chunkBytes))
                try parser.consume(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                start = end
            }
        }
        return try parser.finish()
    }
}
