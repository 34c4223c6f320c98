extension Communicator {
    /// Throws on every rank unless every rank passed the same `values` (bit for bit): how ranks
    /// check that they agree about configuration and data before work whose collectives would
    /// otherwise mismatch and hang. Rank 0's values are broadcast, each rank compares its own,
    /// and the verdicts are gathered, so every rank takes the same branch and can say which
    /// ranks differ:
    ///
    /// `requireAgreement: ranks disagree about the sketch rank: rank 0 has [64.0]; ranks [2] differ`
    ///
    /// (and on a differing rank, what it has). Pass a fingerprint for data too large to compare
    /// whole (a count and a checksum).
    /// - Throws: ``LinearAlgebraError/communication(operation:message:)`` on every rank when
    ///   some rank disagrees, including about the number of values.
    /// - Complexity: two allreduces of 2 doubles, a broadcast of `count` and a gather of R.
    public func requireAgreement(_ values: [Double], about what: String) throws(LinearAlgebraError) {
        if !isDistributed { return }
        // The counts first (a broadcast of rank 0's values needs them to match): Σn = R·n and
        // Σn² = R·n² hold on some rank only if every rank has the same n.
        let n = Double(values.count), r = Double(size)
        var moments = [n, n * n]
        try allreduceSum(&moments)
        guard moments[0] == r * n, moments[1] == r * n * n else {
            throw .communication(operation: "requireAgreement",
                                 message: "ranks disagree about \(what): they hold different numbers of values")
        }
        var reference = values
        try broadcast(&reference, root: 0)
        let differs = zip(values, reference).contains { $0.bitPattern != $1.bitPattern }
        let verdicts = try allgather([differs ? 1 : 0], counts: Array(repeating: 1, count: size))
        let disagreeing = verdicts.indices.filter { verdicts[$0] != 0 }
        if disagreeing.isEmpty { return }
        throw .communication(operation: "requireAgreement",
                             message: "ranks disagree about \(what): rank 0 has \(reference); ranks \(disagreeing) differ"
                                 + (differs ? " (rank \(rank) has \(values))" : ""))
    }
}
