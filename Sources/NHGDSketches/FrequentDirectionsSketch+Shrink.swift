import NHGDLinearAlgebra

extension FrequentDirectionsSketch {
    /// Shrinks the buffer `M` (p×m, m ≤ 2ℓ) to at most ℓ columns (ALGORITHMS.md §5): with
    /// `λ₁ ≥ … ≥ λ_m` the squared singular values of `M` and `δ = λ_{ℓ+1}` (0 if m ≤ ℓ),
    /// direction i ≤ ℓ is kept with squared length `λᵢ − δ`; Δ grows by δ. The FD
    /// inequalities of this one step, `0 ⪯ MMᵀ − BBᵀ ⪯ δ·I` and `‖M‖_F² − ‖B‖_F² ≥ (ℓ + 1)δ`,
    /// hold for both methods.
    ///
    /// Everything that can throw (the eigen- or singular value decomposition) runs before the
    /// buffer is written, so a throw leaves the sketch unchanged.
    /// - Complexity: `.gramTrick`: O(m³) for `dsyevd` and 2pmℓ for the rotation (the Gram
    ///   matrix bordered by one gemm with the new columns, ≈ 3pℓ² per fill; pm² instead on a
    ///   re-orthogonalising shrink): ≈ 7pℓ² per ℓ columns in all. `.svd`: ≈ 24pℓ².
    public mutating func shrink() throws {
        if filledColumns == 0 { return }
        switch shrinkMethod {
        case let .gramTrick(interval): try shrinkByGramTrick(reorthogonalizationInterval: interval)
        case .svd: try shrinkBySVD()
        }
        shrinkCount += 1
        version += 1
        _checkInvariants()
    }

    /// The Gram-trick shrink (see ``ShrinkMethod/gramTrick(reorthogonalizationInterval:)``).
    mutating func shrinkByGramTrick(reorthogonalizationInterval interval: Int) throws {
        let m = filledColumns, k = keptColumns
        let fullGram = k == 0 || shrinksSinceFullGram + 1 >= interval
        // K = MᵀM: K₁₁ = diag(σ²) for the kept, orthogonal columns, K₁₂ and K₂₂ by one bordering
        // gemm over the columns appended since the last shrink or solve; or recomputed by syrk
        // to re-orthogonalise.
        if fullGram { try recomputeGram() } else { try updateGram() }
        let gram = currentGram()
        // Once, on rank 0, and broadcast: every rank rotates its rows by the same eigenvectors.
        let eigen = try SymmetricEigendecomposition(gram, decomposedOnRootOf: shard.communicator)
        var trace = 0.0
        for i in 0..<m { trace += gram[i, i] }
        // Ascending eigenvalues: the ℓ largest are λ[m-1], …, λ[m-ℓ]; δ = λ[m-ℓ-1].
        let delta = m > rank ? max(0, eigen.values[m - rank - 1]) : 0
        var kept = 0
        var norms: [Double] = []
        norms.reserveCapacity(rank)
        var rotation = Matrix(rows: m, columns: min(rank, m))
        let c = columnScale
        for j in 0..<min(rank, m) {
            let lambda = eigen.values[m - 1 - j]
            // λ − δ is a difference of two computed numbers, exact by Sterbenz when they are
            // close: no cancellation beyond the eigenvalues' own rounding.
            let remaining = lambda - delta
            guard lambda > 0, remaining > 0 else { break }
            let factor = c * (remaining / lambda).squareRoot()
            for i in 0..<m { rotation[i, j] = eigen.vectors[i, m - 1 - j] * factor }
            norms.append(c * c * remaining)
            kept += 1
        }
        try rotateBuffer(by: rotation, sourceColumns: m, targetColumns: kept)
        filledColumns = kept
        keptColumns = kept
        keptSquaredNorms = norms
        setDiagonalGram(norms)
        columnScale = 1
        shrunkMass += c * c * delta
        roundingAllowance += Double(shard.globalDimension + 6 * m + 16) * Double.ulpOfOne * c * c * trace
        shrinksSinceFullGram = fullGram ? 0 : shrinksSinceFullGram + 1
    }

    /// `buffer[:, 0..<targetColumns] ← buffer[:, 0..<sourceColumns] · R[:, 0..<targetColumns]`,
    /// one row panel at a time (copy in, gemm, copy out), so no p×ℓ temporary is needed.
    mutating func rotateBuffer(by rotation: Matrix, sourceColumns m: Int, targetColumns l: Int) throws {
        if l == 0 { return }
        let p = dimension
        var start = 0
        var panelIn = self.panelIn, panelOut = self.panelOut
        self.panelIn = Matrix(rows: 0, columns: 0)
        self.panelOut = Matrix(rows: 0, columns: 0)
        defer {
            self.panelIn = panelIn
            self.panelOut = panelOut
        }
        while start < p {
            let h = min(panelIn.rows, p - start)
            if h < panelIn.rows {
                // The last, shorter panel uses small matrices of its own height.
                var tailIn = Matrix(rows: h, columns: m)
                var tailOut = Matrix(rows: h, columns: l)
                try rotatePanel(start: start, height: h, sourceColumns: m, targetColumns: l,
                                rotation: rotation, panelIn: &tailIn, panelOut: &tailOut)
            } else {
                try rotatePanel(start: start, height: h, sourceColumns: m, targetColumns: l,
                                rotation: rotation, panelIn: &panelIn, panelOut: &panelOut)
            }
            start += h
        }
    }

    private mutating func rotatePanel(
        start: Int, height h: Int, sourceColumns m: Int, targetColumns l: Int, rotation: Matrix,
        panelIn: inout Matrix, panelOut: inout Matrix
    ) throws {
        let p = dimension, ld = panelIn.rows
        buffer.storage.withUnsafeBufferPointer { src in
            panelIn.storage.withUnsafeMutableBufferPointer { dst in
                for j in 0..<m {
                    let from = src.baseAddress! + start + j * p, to = dst.baseAddress! + j * ld
                    to.update(from: from, count: h)
                }
            }
        }
        try BLAS.gemm(.none, .none, panelIn, columns: 0..<m, rotation, columns: 0..<l, &panelOut, columns: 0..<l)
        let ldOut = panelOut.rows
        panelOut.storage.withUnsafeBufferPointer { src in
            buffer.storage.withUnsafeMutableBufferPointer { dst in
                for j in 0..<l {
                    (dst.baseAddress! + start + j * p).update(from: src.baseAddress! + j * ldOut, count: h)
                }
            }
        }
    }

    /// The SVD shrink (see ``ShrinkMethod/svd``): `B = U_ℓ diag(√((σᵢ − c)(σᵢ + c)))`,
    /// c = σ_{ℓ+1}.
    mutating func shrinkBySVD() throws {
        let m = filledColumns
        let svd = try SingularValueDecomposition(m == buffer.columns ? buffer : buffer.leadingColumns(m))
        let sigma = svd.singularValues
        let threshold = sigma.count > rank ? sigma[rank] : 0
        let c = columnScale, p = dimension
        var norms: [Double] = []
        norms.reserveCapacity(rank)
        svd.u.storage.withUnsafeBufferPointer { u in
            buffer.storage.withUnsafeMutableBufferPointer { b in
                for j in 0..<min(rank, sigma.count) {
                    let remaining = (sigma[j] - threshold) * (sigma[j] + threshold)
                    guard remaining > 0 else { break }
                    let factor = c * remaining.squareRoot()
                    let from = u.baseAddress! + j * p, to = b.baseAddress! + j * p
                    for i in 0..<p { to[i] = factor * from[i] }
                    norms.append(c * c * remaining)
                }
            }
        }
        filledColumns = norms.count
        keptColumns = norms.count
        keptSquaredNorms = norms
        setDiagonalGram(norms)
        columnScale = 1
        shrunkMass += c * c * threshold * threshold
        roundingAllowance += Double(dimension + 6 * m + 16) * Double.ulpOfOne * c * c * sigma.reduce(0) { $0 + $1 * $1 }
    }
}
