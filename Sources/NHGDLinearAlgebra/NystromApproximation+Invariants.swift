extension NystromApproximation {
    /// Checks the representation invariants. Does real work only when compiled with
    /// `-DNHGD_CHECK_INVARIANTS` (it costs a k×k Gram matrix, pk² flops); otherwise it is empty.
    ///
    /// - `1 ≤ k ≤ p`, one eigenvalue per column of U, all finite, ≥ 0 and descending;
    /// - `ν ≥ 0` and finite, at least one operator application per column;
    /// - U has orthonormal columns: `|UᵀU − I| ≤ 30·p·eps` entrywise, LAPACK's own threshold for
    ///   the orthogonality ratio of a computed SVD (`dbdt01`-style ratios, LAPACK Working Note 41).
    public func _checkInvariants() {
        #if NHGD_CHECK_INVARIANTS
        let p = dimension, k = rank
        precondition(k >= 1 && k <= p, "Nyström: rank \(k) outside 1…\(p)")
        precondition(eigenvalues.count == k, "Nyström: \(eigenvalues.count) eigenvalues for \(k) columns")
        precondition(eigenvalues.allSatisfy { $0 >= 0 && $0.isFinite }, "Nyström: eigenvalue negative or not finite")
        precondition(zip(eigenvalues, eigenvalues.dropFirst()).allSatisfy { $0 >= $1 }, "Nyström: eigenvalues not descending")
        precondition(stabilizingShift >= 0 && stabilizingShift.isFinite, "Nyström: bad shift \(stabilizingShift)")
        precondition(cost.operatorApplications == k, "Nyström: cost counts \(cost.operatorApplications) products, k = \(k)")
        var gram = Matrix(rows: k, columns: k)
        try! BLAS.syrk(.transpose, basis, &gram)
        let tolerance = 30 * Double(p) * Double.ulpOfOne
        for j in 0..<k {
            for i in 0..<k {
                precondition(abs(gram[i, j] - (i == j ? 1 : 0)) <= tolerance,
                             "Nyström: basis columns \(i), \(j) not orthonormal: UᵀU = \(gram[i, j])")
            }
        }
        #endif
    }
}
