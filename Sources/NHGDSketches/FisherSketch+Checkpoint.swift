import NHGDLinearAlgebra

// The reference sketches' checkpoints (Frequent Directions has its own file): p and the
// configuration first, compared on restore, then the state. Each restore validates first and
// leaves the sketch unchanged on error.

extension DenseFisher: CheckpointableState {
    public func writeState(to writer: inout CheckpointWriter) {
        writer.write(dimension)
        writer.write(ingestedCount)
        matrix.writeState(to: &writer)
    }

    public mutating func restoreState(from reader: inout CheckpointReader) throws {
        try expectDimension(&reader, dimension, "dense Fisher")
        let ingested = try reader.readInt(in: 0...Int.max, "ingested count")
        let (m, k) = try Matrix.readState(from: &reader, rows: dimension, maxColumns: dimension,
                                          allocatedColumns: dimension, "dense Fisher")
        guard k == dimension else { throw CheckpointError.malformed("dense Fisher has \(k) columns") }
        matrix = m
        ingestedCount = ingested
    }
}

extension DiagonalFisher: CheckpointableState {
    public func writeState(to writer: inout CheckpointWriter) {
        writer.write(dimension)
        writer.write(ingestedCount)
        writer.write(diagonal)
    }

    public mutating func restoreState(from reader: inout CheckpointReader) throws {
        try expectDimension(&reader, dimension, "diagonal Fisher")
        let ingested = try reader.readInt(in: 0...Int.max, "ingested count")
        let d = try reader.readDoubles(count: dimension, "diagonal Fisher")
        diagonal = d
        ingestedCount = ingested
    }
}

extension WindowSketch: CheckpointableState {
    public func writeState(to writer: inout CheckpointWriter) {
        writer.write(dimension)
        writer.write(capacity)
        writer.write(filledColumns)
        writer.write(head)
        writer.write(columnScale)
        writer.write(evictedMass)
        writer.write(ingestedCount)
        ring.writeState(to: &writer)
    }

    public mutating func restoreState(from reader: inout CheckpointReader) throws {
        try expectDimension(&reader, dimension, "window sketch")
        let k = try reader.readInt()
        guard k == capacity else {
            throw CheckpointError.configurationMismatch("window of \(capacity) here, \(k) in the checkpoint")
        }
        let filled = try reader.readInt(in: 0...capacity, "window filled columns")
        let h = try reader.readInt(in: 0...(capacity - 1), "window head")
        let scale = try reader.readDouble(), evicted = try reader.readDouble()
        guard scale.isFinite, scale > 0, evicted.isFinite, evicted >= 0 else {
            throw CheckpointError.malformed("window scale \(scale) or evicted mass \(evicted)")
        }
        let ingested = try reader.readInt(in: 0...Int.max, "ingested count")
        let (m, stored) = try Matrix.readState(from: &reader, rows: dimension, maxColumns: capacity,
                                               allocatedColumns: capacity, "window")
        guard stored == capacity else { throw CheckpointError.malformed("window has \(stored) columns") }
        ring = m
        filledColumns = filled
        head = h
        columnScale = scale
        evictedMass = evicted
        ingestedCount = ingested
    }
}

/// Reads p and compares it with the sketch's.
func expectDimension(_ reader: inout CheckpointReader, _ p: Int, _ what: String) throws {
    let found = try reader.readInt()
    guard found == p else {
        throw CheckpointError.configurationMismatch("\(what) of dimension \(p) here, \(found) in the checkpoint")
    }
}
