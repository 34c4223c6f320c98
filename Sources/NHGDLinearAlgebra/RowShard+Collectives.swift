extension RowShard {
    /// `mine ← this rank's rows of Σ_ranks block`, for a p×s block every rank holds in full
    /// (its samples' combination gradients `G_r C`, ALGORITHMS.md §8): the data-parallel sum
    /// of which each rank receives only the rows its sketch shard needs.
    ///
    /// One reduce-scatter **per column**: in column-major storage a column's rank segments
    /// follow each other in rank order, so each column is sent as it is stored (no reordering
    /// pass) and the library's scratch is one column (p doubles), not the block (p·s): Open MPI's
    /// reduce-scatter allocates a temporary of its whole message, which for one p×s call added
    /// p·s doubles to every rank's peak. The payload is the same p·s doubles either way; the
    /// price is s latencies instead of one per block.
    /// - Throws: `dimensionMismatch` for a block without p rows or a `mine` without this rank's
    ///   rows and the block's columns; `communication` from the collective.
    /// - Complexity: s reduce-scatters of p doubles; each rank receives p/R·s.
    public func reduceScatter(_ block: Matrix, into mine: inout Matrix) throws {
        guard block.rows == globalDimension, mine.rows == localDimension, mine.columns == block.columns else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "RowShard.reduceScatter",
                expected: "a \(globalDimension)×s block into \(localDimension)×s rows",
                actual: "\(block.rows)×\(block.columns) into \(mine.rows)×\(mine.columns)")
        }
        let p = globalDimension, local = localDimension, counts = self.counts
        try block.storage.withUnsafeBufferPointer { b in
            try mine.storage.withUnsafeMutableBufferPointer { m in
                for j in 0..<block.columns {
                    try communicator.reduceScatterSum(
                        UnsafeBufferPointer(rebasing: b[(j * p)..<((j + 1) * p)]), counts: counts,
                        into: UnsafeMutableBufferPointer(rebasing: m[(j * local)..<((j + 1) * local)]))
                }
            }
        }
    }

    /// The whole length-p vector from every rank's rows of it (one allgather), for example a
    /// sharded solve's `u` where every rank needs all of it.
    /// - Throws: `dimensionMismatch` when `local` is not this rank's row count.
    public func allgather(_ local: [Double]) throws -> [Double] {
        guard local.count == localDimension else {
            throw LinearAlgebraError.dimensionMismatch(operation: "RowShard.allgather", expected: "\(localDimension) rows",
                                                       actual: "\(local.count)")
        }
        if !isDistributed { return local }
        return try communicator.allgather(local, counts: counts)
    }
}
