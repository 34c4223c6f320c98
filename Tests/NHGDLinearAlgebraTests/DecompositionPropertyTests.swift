import Foundation
import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// Cholesky, symmetric eigen-decomposition, SVD and QR: reconstruction and orthogonality against
/// dense references, with LAPACK's own scaled-residual ratios (``lapackThreshold``), and their
/// typed errors.
struct DecompositionPropertyTests {
    /// `dpot02`'s ratio `‖b − A x‖ / (n ‖A‖ ‖x‖ eps)`.
    @Test func choleskySolveHasASmallResidual() throws {
        try forAll("Cholesky solve residual", cases: 50) { c in
            let n = c.size(1...150), m = c.size(1...4)
            let kappa = c.logUniform(in: 1...1e12)
            let scale = c.logUniform(in: 1e-3...1e3)
            let a = c.spdMatrix(dimension: n, conditionNumber: kappa, largest: scale)
            let b = c.gaussianMatrix(rows: n, columns: m)
            c.note("n=\(n) m=\(m) κ=\(kappa) ‖A‖=\(scale)")
            let chol = try CholeskyFactorization(a)
            var x = b
            try chol.solve(&x)
            let ax = referenceProduct(a, x)
            for j in 0..<m {
                let r = zip(ax.column(j), b.column(j)).map { $0 - $1 }
                let ratio = BLAS.norm(r) / (Double(n) * scale * BLAS.norm(x.column(j)) * eps)
                try c.expect(ratio <= lapackThreshold, "column \(j): residual ratio \(ratio)")
            }
            var single = b.column(0)
            try chol.solve(&single)
            let r = zip(referenceProduct(a, single), b.column(0)).map { $0 - $1 }
            let ratio = BLAS.norm(r) / (Double(n) * scale * BLAS.norm(single) * eps)
            try c.expect(ratio <= lapackThreshold, "vector solve: residual ratio \(ratio)")
            // L Lᵀ = A (dpot01's ratio ‖L Lᵀ − A‖ / (n ‖A‖ eps)).
            var l = chol.factor
            for j in 0..<n { for i in 0..<j { l[i, j] = 0 } }
            let llt = referenceProduct(l, l.transposed)
            let recon = frobeniusNorm(try Matrix(rows: n, columns: n, storage: zip(llt.storage, a.storage).map { $0 - $1 }))
            try c.expect(recon / (Double(n) * scale * eps) <= lapackThreshold, "‖LLᵀ − A‖ ratio")
            let logDet = zip(0..<n, logSpacedSpectrum(count: n, conditionNumber: kappa, largest: scale)).reduce(0.0) { $0 + log($1.1) }
            // log det is a sum of n logs of eigenvalues each perturbed relatively by ≤ κ·n·eps.
            try c.expect(abs(chol.logDeterminant - logDet) <= Double(n) * (kappa * Double(n) * eps * 10 + 1e-12),
                         "log det \(chol.logDeterminant) vs \(logDet)")
        }
    }

    /// A symmetric matrix whose leading minors of order < m are positive definite and whose
    /// leading minor of order m is not: an SPD matrix with entry (m−1, m−1) set to −1, so the
    /// Schur complement at step m is `−1 − bᵀ S⁻¹ b < 0`.
    @Test func choleskyNamesTheFailingMinor() throws {
        try forAll("Cholesky reports the minor", cases: 40) { c in
            let n = c.size(1...60)
            let m = c.int(in: 1...n)
            var a = c.spdMatrix(dimension: n, conditionNumber: c.logUniform(in: 1...1e4))
            a[m - 1, m - 1] = -1
            c.note("n=\(n) failing minor m=\(m)")
            try c.expectThrows("indefinite", matching: { error in
                error as? LinearAlgebraError == .notPositiveDefinite(routine: "dpotrf", minor: m)
            }) { try CholeskyFactorization(a) }
        }
    }

    @Test func decompositionsRejectNonFiniteAndMisshapenInput() throws {
        var a = Matrix.identity(4)
        a[2, 1] = .nan
        #expect(throws: LinearAlgebraError.nonFinite(operation: "dpotrf", argument: "matrix", index: 6)) {
            try CholeskyFactorization(a)
        }
        #expect(throws: LinearAlgebraError.nonFinite(operation: "dsyevd", argument: "matrix", index: 6)) {
            try SymmetricEigendecomposition(a)
        }
        a[2, 1] = .infinity
        #expect(throws: LinearAlgebraError.nonFinite(operation: "dgesdd", argument: "matrix", index: 6)) {
            try SingularValueDecomposition(a)
        }
        #expect(throws: LinearAlgebraError.nonFinite(operation: "dgeqrf", argument: "matrix", index: 6)) {
            try QRFactorization(a)
        }
        let rectangular = Matrix(rows: 3, columns: 4, repeating: 1)
        #expect(throws: LinearAlgebraError.self) { try CholeskyFactorization(rectangular) }
        #expect(throws: LinearAlgebraError.self) { try SymmetricEigendecomposition(rectangular) }
        #expect(throws: LinearAlgebraError.self) { try QRFactorization(rectangular) }
        let chol = try CholeskyFactorization(.identity(3))
        var wrong = [1.0, 2]
        #expect(throws: LinearAlgebraError.self) { try chol.solve(&wrong) }
        #expect(wrong == [1, 2])
        var wrongBlock = Matrix(rows: 2, columns: 2, repeating: 1)
        #expect(throws: LinearAlgebraError.self) { try chol.solve(&wrongBlock) }
    }

    /// `dsyt21`'s ratios: `‖A − Q Λ Qᵀ‖ / (n ‖A‖ eps)` and `‖QᵀQ − I‖ / (n eps)`; eigenvalues
    /// ascending and within `n·eps·‖A‖`-ish of the constructed spectrum (Weyl).
    @Test func eigendecompositionReconstructsWithOrthonormalVectors() throws {
        try forAll("eigen reconstructs", cases: 40) { c in
            let n = c.size(1...120)
            let lambda = c.vector(count: n).map { $0 * 10 }
            let a = c.symmetricMatrix(eigenvalues: lambda)
            let norm = lambda.map(abs).max()!
            c.note("n=\(n) ‖A‖=\(norm)")
            let eig = try SymmetricEigendecomposition(a)
            try c.expect(eig.values == eig.values.sorted(), "eigenvalues not ascending")
            try c.expect(maxAbsDifference(eig.values, lambda.sorted()) / (Double(n) * norm * eps) <= lapackThreshold,
                         "eigenvalues \(maxAbsDifference(eig.values, lambda.sorted())) from the constructed ones")
            let q = eig.vectors
            var scaled = q
            for j in 0..<n { for i in 0..<n { scaled[i, j] *= eig.values[j] } }
            let recon = referenceProduct(scaled, q.transposed)
            try c.expect(maxAbsDifference(recon, a) / (Double(n) * norm * eps) <= lapackThreshold, "‖A − QΛQᵀ‖ ratio")
            let gram = referenceProduct(q.transposed, q)
            try c.expect(maxAbsDifference(gram, .identity(n)) / (Double(n) * eps) <= lapackThreshold, "‖QᵀQ − I‖ ratio")
        }
    }

    /// `dbdt01`-style: `‖A − U Σ Vᵀ‖ / (max(m,n) ‖A‖ eps)`, orthonormal `U` and `Vᵀ` rows,
    /// σ descending and non-negative.
    @Test func svdReconstructs() throws {
        try forAll("SVD reconstructs", cases: 40) { c in
            let m = c.size(1...100), n = c.size(1...100), r = min(m, n)
            let a = c.gaussianMatrix(rows: m, columns: n)
            c.note("\(m)×\(n)")
            let svd = try SingularValueDecomposition(a)
            let s = svd.singularValues
            try c.expect(s.count == r && svd.u.rows == m && svd.u.columns == r && svd.vt.rows == r && svd.vt.columns == n,
                         "shapes")
            try c.expect(s == s.sorted(by: >) && s.allSatisfy { $0 >= 0 }, "σ not descending and ≥ 0: \(s)")
            var us = svd.u
            for j in 0..<r { for i in 0..<m { us[i, j] *= s[j] } }
            let recon = referenceProduct(us, svd.vt)
            let scale = Double(max(m, n)) * s[0] * eps
            try c.expect(maxAbsDifference(recon, a) / scale <= lapackThreshold, "‖A − UΣVᵀ‖ ratio")
            try c.expect(maxAbsDifference(referenceProduct(svd.u.transposed, svd.u), .identity(r)) / (Double(m) * eps)
                         <= lapackThreshold, "‖UᵀU − I‖ ratio")
            try c.expect(maxAbsDifference(referenceProduct(svd.vt, svd.vt.transposed), .identity(r)) / (Double(n) * eps)
                         <= lapackThreshold, "‖VᵀV − I‖ ratio")
            // The largest singular value is the spectral norm: compare with the eigenvalues of AᵀA.
            let top = try SymmetricEigendecomposition(referenceProduct(a.transposed, a)).values.last!
            try c.expect(abs(s[0] * s[0] - top) <= lapackThreshold * Double(max(m, n)) * eps * top, "σ₁² vs λmax(AᵀA)")
        }
    }

    /// `dqrt01`'s ratios: `‖A − Q R‖ / (m ‖A‖ eps)`, `‖QᵀQ − I‖ / (m eps)`; `R` upper triangular.
    @Test func qrIsOrthonormalAndReconstructs() throws {
        try forAll("QR reconstructs", cases: 40) { c in
            let n = c.size(0...80)
            let m = n + c.size(0...80)
            let a = c.gaussianMatrix(rows: m, columns: n)
            c.note("\(m)×\(n)")
            let qr = try QRFactorization(a)
            try c.expect(qr.q.rows == m && qr.q.columns == n && qr.r.rows == n && qr.r.columns == n, "shapes")
            for j in 0..<n { for i in (j + 1)..<max(j + 1, n) { try c.expect(qr.r[i, j] == 0, "R[\(i),\(j)] ≠ 0") } }
            let norm = try spectralNorm(a)
            let recon = referenceProduct(qr.q, qr.r)
            try c.expect(maxAbsDifference(recon, a) / (Double(max(m, 1)) * max(norm, 1) * eps) <= lapackThreshold,
                         "‖A − QR‖ ratio")
            try c.expect(maxAbsDifference(referenceProduct(qr.q.transposed, qr.q), .identity(n)) / (Double(max(m, 1)) * eps)
                         <= lapackThreshold, "‖QᵀQ − I‖ ratio")
        }
    }
}
