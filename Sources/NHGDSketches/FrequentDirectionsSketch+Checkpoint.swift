import NHGDLinearAlgebra

extension FrequentDirectionsSketch: CheckpointableState {
    /// The configuration (p, ℓ, compensation, shrink method), then everything an ingest, a
    /// merge or a solve reads: the m buffered columns (not the unused rest of the p×2ℓ buffer),
    /// c, Δ, the rounding allowance, the kept norms, the tracked diagonal, the Gram matrix and
    /// the counters. The capacitance cache is not written: a restored sketch rebuilds it from
    /// the same Gram matrix, to the same bits.
    /// - Complexity: O(p·m) bytes.
    public func writeState(to writer: inout CheckpointWriter) {
        writer.write(configurationKey)
        writer.write(filledColumns)
        writer.write(keptColumns)
        writer.write(gramColumns)
        writer.write(keptSquaredNorms)
        writer.write(columnScale)
        writer.write(shrunkMass)
        writer.write(roundingAllowance)
        writer.write(exactDiagonal)
        writer.write(ingestedCount)
        writer.write(shrinkCount)
        writer.write(shrinksSinceFullGram)
        buffer.writeState(to: &writer, leadingColumns: filledColumns)
        gram.writeState(to: &writer)
    }

    /// - Throws: ``CheckpointError/configurationMismatch(_:)`` for a sketch of another p, ℓ,
    ///   compensation or shrink method; ``CheckpointError/malformed(_:)`` for counts out of
    ///   range or a non-finite scale. The sketch is unchanged on error.
    public mutating func restoreState(from reader: inout CheckpointReader) throws {
        let key = try reader.readString()
        guard key == configurationKey else {
            throw CheckpointError.configurationMismatch("Frequent Directions sketch '\(configurationKey)' here, '\(key)' in the checkpoint")
        }
        let width = 2 * rank
        let filled = try reader.readInt(in: 0...width, "FD filled columns")
        let kept = try reader.readInt(in: 0...filled, "FD kept columns")
        // The Gram matrix covers the kept columns and at most every buffered one: it is bordered
        // lazily, at the next shrink or solve.
        let gramCount = try reader.readInt(in: kept...filled, "FD Gram columns")
        let norms = try reader.readDoubles(count: kept, "FD kept norms")
        let scale = try reader.readDouble(), mass = try reader.readDouble(), rounding = try reader.readDouble()
        guard scale.isFinite, scale > 0, mass.isFinite, mass >= 0, rounding.isFinite, rounding >= 0 else {
            throw CheckpointError.malformed("FD scale \(scale), shrunk mass \(mass) or rounding allowance \(rounding)")
        }
        let diagonal = try reader.readDoubles(count: exactDiagonal.count, "FD tracked diagonal")
        let ingested = try reader.readInt(in: 0...Int.max, "FD ingested count")
        let shrinks = try reader.readInt(in: 0...Int.max, "FD shrink count")
        let sinceFull = try reader.readInt(in: 0...Int.max, "FD shrinks since the full Gram")
        let (columns, stored) = try Matrix.readState(from: &reader, rows: dimension, maxColumns: width,
                                                     allocatedColumns: width, "FD buffer")
        guard stored == filled else { throw CheckpointError.malformed("FD buffer holds \(stored) columns, \(filled) filled") }
        let (gramMatrix, gramStored) = try Matrix.readState(from: &reader, rows: width, maxColumns: width,
                                                            allocatedColumns: width, "FD Gram matrix")
        guard gramStored == width else { throw CheckpointError.malformed("FD Gram matrix has \(gramStored) columns") }
        guard columns.storage.firstNonFiniteIndex == nil, gramMatrix.storage.firstNonFiniteIndex == nil,
              norms.firstNonFiniteIndex == nil, diagonal.firstNonFiniteIndex == nil else {
            throw CheckpointError.malformed("FD state holds a NaN or an infinity")
        }
        buffer = columns
        gram = gramMatrix
        filledColumns = filled
        keptColumns = kept
        gramColumns = gramCount
        keptSquaredNorms = norms
        columnScale = scale
        shrunkMass = mass
        roundingAllowance = rounding
        exactDiagonal = diagonal
        ingestedCount = ingested
        shrinkCount = shrinks
        shrinksSinceFullGram = sinceFull
        capacitanceCache = nil
        version += 1
    }

    /// p, ℓ, compensation and shrink method in one string, compared on restore.
    var configurationKey: String { "p=\(dimension),rank=\(rank),compensation=\(compensation),shrink=\(shrinkMethod)" }
}
