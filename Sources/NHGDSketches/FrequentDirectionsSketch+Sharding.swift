import NHGDLinearAlgebra

/// What one ingest needs to know about its columns over all p rows.
struct ColumnSummary {
    /// ‖aⱼ‖₂ over all rows, one per column of the range.
    var norms: [Double]
    /// Whether column j has a nonzero entry on some rank.
    var nonzero: [Bool]
}

extension FrequentDirectionsSketch {
    /// Validates a block (see `validateIngest`) and returns its columns' norms and which are
    /// nonzero, over all p rows.
    ///
    /// Sharded, one allreduce of `2s + 1` doubles carries every rank's verdict, squared norms
    /// and nonzero flags, so ranks agree on everything that follows: a rank whose rows are bad
    /// throws its own error and the others a `communication` error — all before anything
    /// changes, and no rank is left waiting in a collective the others skipped.
    /// - Complexity: one pass over the columns (BLAS `nrm2`), plus the allreduce.
    func columnSummary(_ block: Matrix, columns: Range<Int>, forgetting beta: Double, operation: String) throws
        -> ColumnSummary {
        guard shard.isDistributed else {
            try validateIngest(block, columns: columns, forgetting: beta, dimension: dimension, operation: operation)
            return ColumnSummary(norms: columns.map { BLAS.columnNorm(block, $0) },
                                 nonzero: columns.map { !block.isZeroColumn($0) })
        }
        let s = columns.count
        var message = [Double](repeating: 0, count: 2 * s + 1)
        var failure: (any Error)?
        do {
            try validateIngest(block, columns: columns, forgetting: beta, dimension: dimension, operation: operation)
            for (n, j) in columns.enumerated() {
                let norm = BLAS.columnNorm(block, j)
                message[n] = norm * norm
                message[s + n] = block.isZeroColumn(j) ? 0 : 1
            }
        } catch {
            failure = error
            message[2 * s] = 1
        }
        try shard.communicator.allreduceSum(&message)
        if let failure { throw failure }
        guard message[2 * s] == 0 else {
            throw LinearAlgebraError.communication(
                operation: operation, message: "\(Int(message[2 * s])) rank(s) refused their rows of the block; the sketch is unchanged")
        }
        return ColumnSummary(norms: message[0..<s].map { $0.squareRoot() }, nonzero: message[s..<(2 * s)].map { $0 > 0 })
    }

    /// Whether each column of `matrix` (this rank's rows) is nonzero on some rank.
    /// - Complexity: one pass, plus an allreduce of the columns' flags when sharded.
    func nonzeroColumns(of matrix: Matrix, columns: Range<Int>) throws -> [Bool] {
        var flags = columns.map { matrix.isZeroColumn($0) ? 0.0 : 1.0 }
        if shard.isDistributed { try shard.communicator.allreduceSum(&flags) }
        return flags.map { $0 > 0 }
    }

    /// `MᵀM` of the buffer's `columns` over all p rows: `syrk` on this rank's rows, summed
    /// across ranks (one allreduce of k² doubles).
    /// - Complexity: p·k² flops (local rows).
    func bufferGram(columns: Range<Int>) throws -> Matrix {
        var full = Matrix(rows: columns.count, columns: columns.count)
        try BLAS.syrk(.transpose, buffer, columns: columns, &full)
        if shard.isDistributed { try shard.communicator.allreduceSum(&full.storage) }
        return full
    }

    /// Sums the block `gram[0..<rows, columns]` (leading dimension 2ℓ) across ranks.
    mutating func sumGramAcrossRanks(rows m: Int, columns: Range<Int>) throws {
        let ld = 2 * rank
        var block = [Double](repeating: 0, count: m * columns.count)
        gram.storage.withUnsafeBufferPointer { k in
            block.withUnsafeMutableBufferPointer { b in
                for (n, j) in columns.enumerated() { (b.baseAddress! + n * m).update(from: k.baseAddress! + j * ld, count: m) }
            }
        }
        try shard.communicator.allreduceSum(&block)
        gram.storage.withUnsafeMutableBufferPointer { k in
            block.withUnsafeBufferPointer { b in
                for (n, j) in columns.enumerated() { (k.baseAddress! + j * ld).update(from: b.baseAddress! + n * m, count: m) }
            }
        }
    }
}
