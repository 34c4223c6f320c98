import NHGDLinearAlgebra

extension FrequentDirectionsSketch {
    /// Checks the representation invariants. Does real work only when compiled with
    /// `-DNHGD_CHECK_INVARIANTS` (it costs a p×ℓ² Gram matrix); otherwise it is empty.
    ///
    /// - `0 ≤ keptColumns ≤ filledColumns ≤ 2ℓ`, `keptSquaredNorms.count == keptColumns`;
    /// - `0 < c`, `Δ ≥ 0`, the tracked diagonal is non-negative;
    /// - the kept columns are orthogonal with the recorded squared norms, to a relative
    ///   10⁻⁶ of the largest (drift is bounded by the re-orthogonalisation interval);
    /// - the maintained Gram matrix covers the kept columns and at most every column (it is
    ///   bordered lazily) and equals `MᵀM` there outside its kept block to a relative 10⁻⁹ of
    ///   the largest squared norm (same products, other order).
    public func _checkInvariants() {
        #if NHGD_CHECK_INVARIANTS
        precondition(0 <= keptColumns && keptColumns <= filledColumns && filledColumns <= 2 * rank,
                     "FD: column counts out of range")
        precondition(keptSquaredNorms.count == keptColumns, "FD: kept norms out of sync")
        precondition(columnScale > 0 && columnScale.isFinite, "FD: bad column scale \(columnScale)")
        precondition(shrunkMass >= 0 && shrunkMass.isFinite, "FD: bad shrunk mass \(shrunkMass)")
        precondition(exactDiagonal.allSatisfy { $0 >= 0 }, "FD: negative tracked diagonal")
        precondition(keptColumns <= gramColumns && gramColumns <= filledColumns,
                     "FD: Gram covers \(gramColumns) of \(filledColumns) columns, \(keptColumns) kept")
        if gramColumns > 0 {
            let full = try! bufferGram(columns: 0..<gramColumns)
            let maintained = currentGram()
            let scale = (0..<gramColumns).map { full[$0, $0] }.max() ?? 0
            for j in keptColumns..<gramColumns {
                for i in 0..<gramColumns {
                    precondition(abs(maintained[i, j] - full[i, j]) <= 1e-9 * scale,
                                 "FD: Gram entry (\(i), \(j)) \(maintained[i, j]) vs \(full[i, j])")
                }
            }
        }
        if keptColumns > 0 {
            let gram = try! bufferGram(columns: 0..<keptColumns)
            let scale = keptSquaredNorms.max() ?? 0
            for j in 0..<keptColumns {
                for i in 0..<keptColumns {
                    let expected = i == j ? keptSquaredNorms[i] : 0
                    precondition(abs(gram[i, j] - expected) <= 1e-6 * scale,
                                 "FD: kept columns \(i), \(j) not orthogonal: \(gram[i, j]) vs \(expected)")
                }
            }
        }
        #endif
    }
}
