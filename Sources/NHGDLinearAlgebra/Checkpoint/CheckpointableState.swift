/// A value whose mutable state can be written into a checkpoint and restored from one, so
/// that a run continued from the checkpoint computes bit for bit what the uninterrupted run
/// would have (ALGORITHMS.md-style explicit state: the configuration is the value's own, set by
/// its initialiser; only what changes as it runs is written).
///
/// `restoreState(from:)` validates, then mutates: it reads everything first and checks it
/// against the value's configuration (dimensions, ranks, kinds), throwing
/// ``CheckpointError/configurationMismatch(_:)`` or ``CheckpointError/malformed(_:)`` with the
/// value unchanged; only then does it replace the state.
public protocol CheckpointableState {
    /// Appends the state.
    /// - Throws: ``CheckpointError/unsupported(_:)`` for a state that cannot be written.
    func writeState(to writer: inout CheckpointWriter) throws
    /// Replaces the state with the one `reader` holds.
    mutating func restoreState(from reader: inout CheckpointReader) throws
}

extension Xoshiro256StarStar: CheckpointableState {
    public func writeState(to writer: inout CheckpointWriter) {
        for word in words { writer.write(word) }
    }

    public mutating func restoreState(from reader: inout CheckpointReader) throws {
        let w = [try reader.readUInt64(), try reader.readUInt64(), try reader.readUInt64(), try reader.readUInt64()]
        guard w.contains(where: { $0 != 0 }) else { throw CheckpointError.malformed("an all-zero xoshiro256** state") }
        words = w
    }
}

extension Matrix {
    /// Writes the shape and the leading `columns` columns (all by default).
    public func writeState(to writer: inout CheckpointWriter, leadingColumns: Int? = nil) {
        let k = leadingColumns ?? columns
        writer.write(rows)
        writer.write(k)
        writer.writeElements(storage[0..<(rows * k)])
    }

    /// Reads a matrix written by ``writeState(to:leadingColumns:)`` of `rows` rows and at most
    /// `maxColumns` stored columns into the leading columns of a `rows × allocatedColumns`
    /// matrix (zero beyond them).
    public static func readState(from reader: inout CheckpointReader, rows: Int, maxColumns: Int,
                                 allocatedColumns: Int, _ field: String) throws(CheckpointError) -> (Matrix, columns: Int) {
        let r = try reader.readInt()
        guard r == rows else { throw .malformed("\(field) has \(r) rows, expected \(rows)") }
        let k = try reader.readInt(in: 0...maxColumns, "\(field) columns")
        let elements = try reader.readElements(rows * k)
        var m = Matrix(rows: rows, columns: allocatedColumns)
        if k > 0 { m.storage.replaceSubrange(0..<(rows * k), with: elements) }
        return (m, k)
    }
}
