import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// The BLAS wrappers against textbook loops, over random shapes, column ranges, transposes and
/// scalars.
///
/// Tolerance: a dot product of length n computed in any order satisfies
/// `|fl(xᵀy) − xᵀy| ≤ γₙ |x|ᵀ|y|` with `γₙ = n·eps/(1 − n·eps)` (Higham, *Accuracy and Stability
/// of Numerical Algorithms*, 2nd ed., §3.1). Adding `β·y` costs two more roundings, and the
/// reference loop has the same bound, so each entry must satisfy
/// `|BLAS − reference| ≤ 2·γ_{n+2}·(|α||op(A)||op(B)| + |β||C|)`, used below with `γ ≈ (n+2)·eps`
/// doubled once more for the `1/(1 − n·eps)` factor.
struct BLASPropertyTests {
    func componentwiseBound(inner n: Int) -> Double { 4 * Double(n + 2) * eps }

    @Test func gemvMatchesTheReferenceLoop() throws {
        try forAll("gemv vs reference", cases: 60) { c in
            let m = c.size(0...120), n = c.size(0...120)
            let a = c.gaussianMatrix(rows: m, columns: n)
            let range = columnRange(&c, n)
            let trans: Transpose = c.bool() ? .none : .transpose
            let alpha = c.double(in: -2...2), beta = c.bool() ? 0 : c.double(in: -2...2)
            let opA = explicit(trans, a, columns: range)
            let x = c.vector(count: opA.columns)
            let y0 = c.vector(count: opA.rows)
            c.note("m=\(m) n=\(n) columns=\(range) trans=\(trans) α=\(alpha) β=\(beta)")
            var y = y0
            try BLAS.gemv(trans, alpha: alpha, a, columns: range, x, beta: beta, &y)
            let ax = referenceProduct(opA, x)
            let size = referenceProduct(absolute(opA), x.map(abs))
            let tol = componentwiseBound(inner: opA.columns)
            for i in 0..<y.count {
                let want = alpha * ax[i] + beta * y0[i]
                let bound = tol * (abs(alpha) * size[i] + abs(beta * y0[i]))
                try c.expect(abs(y[i] - want) <= bound, "y[\(i)] = \(y[i]), reference \(want), bound \(bound)")
            }
        }
    }

    @Test func gemmMatchesTheReferenceLoopAndLeavesOtherColumnsAlone() throws {
        try forAll("gemm vs reference", cases: 60) { c in
            let m = c.size(0...60), n = c.size(0...60), inner = c.size(0...60)
            let transA: Transpose = c.bool() ? .none : .transpose
            let transB: Transpose = c.bool() ? .none : .transpose
            // Stored shapes with extra columns around the ranges that are used.
            let aExtra = c.int(in: 0...3), bExtra = c.int(in: 0...3), cExtra = c.int(in: 0...3)
            let aStart = c.int(in: 0...aExtra), bStart = c.int(in: 0...bExtra), cStart = c.int(in: 0...cExtra)
            let (aRows, aCols) = transA == .none ? (m, inner) : (inner, m)
            let (bRows, bCols) = transB == .none ? (inner, n) : (n, inner)
            let a = c.gaussianMatrix(rows: aRows, columns: aCols + aExtra)
            let b = c.gaussianMatrix(rows: bRows, columns: bCols + bExtra)
            let c0 = c.gaussianMatrix(rows: m, columns: n + cExtra)
            let ra = aStart..<(aStart + aCols), rb = bStart..<(bStart + bCols), rc = cStart..<(cStart + n)
            let alpha = c.double(in: -2...2), beta = c.bool() ? 0 : c.double(in: -2...2)
            c.note("m=\(m) n=\(n) k=\(inner) \(transA)/\(transB) ranges \(ra) \(rb) \(rc) α=\(alpha) β=\(beta)")
            var out = c0
            try BLAS.gemm(transA, transB, alpha: alpha, a, columns: ra, b, columns: rb, beta: beta, &out, columns: rc)
            let opA = explicit(transA, a, columns: ra), opB = explicit(transB, b, columns: rb)
            let ab = referenceProduct(opA, opB)
            let size = referenceProduct(absolute(opA), absolute(opB))
            let tol = componentwiseBound(inner: inner)
            for j in 0..<out.columns {
                for i in 0..<m {
                    if rc.contains(j) {
                        let jj = j - rc.lowerBound
                        let want = alpha * ab[i, jj] + beta * c0[i, j]
                        let bound = tol * (abs(alpha) * size[i, jj] + abs(beta * c0[i, j]))
                        try c.expect(abs(out[i, j] - want) <= bound, "C[\(i),\(j)] = \(out[i, j]) vs \(want)")
                    } else {
                        try c.expect(out[i, j] == c0[i, j], "column \(j) outside \(rc) was modified")
                    }
                }
            }
        }
    }

    @Test func syrkMatchesTheReferenceAndFillsBothTriangles() throws {
        try forAll("syrk vs reference", cases: 60) { c in
            let rows = c.size(0...80), cols = c.size(0...80)
            let a = c.gaussianMatrix(rows: rows, columns: cols)
            let range = columnRange(&c, cols)
            let trans: Transpose = c.bool() ? .none : .transpose
            let opA = explicit(trans, a, columns: range)
            let n = opA.rows
            let alpha = c.double(in: 0...2), beta = c.bool() ? 0 : c.double(in: -2...2)
            let c0 = c.symmetricMatrix(eigenvalues: c.vector(count: n))
            c.note("A \(rows)×\(cols) columns \(range) trans=\(trans) n=\(n) α=\(alpha) β=\(beta)")
            var out = c0
            try BLAS.syrk(trans, alpha: alpha, a, columns: range, beta: beta, &out)
            try c.expect(out == out.transposed, "result is not exactly symmetric")
            let aat = referenceProduct(opA, opA.transposed)
            let size = referenceProduct(absolute(opA), absolute(opA).transposed)
            let tol = componentwiseBound(inner: opA.columns)
            for j in 0..<n {
                for i in 0..<n {
                    let want = alpha * aat[i, j] + beta * c0[i, j]
                    let bound = tol * (alpha * size[i, j] + abs(beta * c0[i, j]))
                    try c.expect(abs(out[i, j] - want) <= bound, "C[\(i),\(j)] = \(out[i, j]) vs \(want)")
                }
            }
        }
    }

    /// A triangular solve is componentwise backward stable: the computed X solves
    /// `(T + ΔT) X = αB` column by column with `|ΔT| ≤ γₙ|T|` (Higham, *Accuracy and Stability*,
    /// Thm 8.5), so `|op(A) X − αB| ≤ γₙ |op(A)||X|` plus one rounding of `αB`; the product with
    /// `op(A)` is formed by the reference loop (another γₙ), so the bound is
    /// `componentwiseBound(inner: n)·(|op(A)||X| + |αB|)`. The triangle that must not be read
    /// holds NaN, so reading it would fail the check.
    @Test func trsmSolvesWithTheRequestedTriangleOnly() throws {
        try forAll("trsm vs reference", cases: 60) { c in
            let n = c.size(0...60), m = c.size(0...40)
            let side: BLAS.Side = c.bool() ? .left : .right
            let triangle: BLAS.Triangle = c.bool() ? .lower : .upper
            let trans: Transpose = c.bool() ? .none : .transpose
            let alpha = c.double(in: -2...2)
            // Diagonal entries of magnitude 1…3 with random signs: the solve is defined, however
            // badly conditioned the triangle (the residual bound does not depend on it).
            var clean = Matrix(rows: n, columns: n)
            var stored = Matrix(rows: n, columns: n, repeating: .nan)
            for j in 0..<n {
                for i in 0..<n where triangle == .lower ? i >= j : i <= j {
                    let value = i == j ? (c.bool() ? 1 : -1) * c.double(in: 1...3) : c.gaussian()
                    clean[i, j] = value
                    stored[i, j] = value
                }
            }
            let (rows, columns) = side == .left ? (n, m) : (m, n)
            let b = c.gaussianMatrix(rows: rows, columns: columns)
            c.note("n=\(n) m=\(m) \(side) \(triangle) \(trans) α=\(alpha)")
            var x = b
            try BLAS.trsm(side, triangle, trans, alpha: alpha, stored, &x)
            let opA = explicit(trans, clean, columns: 0..<n)
            let (product, size) = side == .left
                ? (referenceProduct(opA, x), referenceProduct(absolute(opA), absolute(x)))
                : (referenceProduct(x, opA), referenceProduct(absolute(x), absolute(opA)))
            let tol = componentwiseBound(inner: n)
            for j in 0..<columns {
                for i in 0..<rows {
                    let want = alpha * b[i, j]
                    let bound = tol * (size[i, j] + abs(want))
                    try c.expect(abs(product[i, j] - want) <= bound, "op(A)X − αB at [\(i),\(j)]: \(product[i, j]) vs \(want)")
                }
            }
        }
        var b = Matrix(rows: 3, columns: 2, repeating: 1)
        let before = b
        #expect(throws: LinearAlgebraError.self) { try BLAS.trsm(.left, .lower, .none, Matrix.identity(2), &b) }
        #expect(throws: LinearAlgebraError.self) { try BLAS.trsm(.right, .lower, .transpose, Matrix(rows: 2, columns: 3), &b) }
        #expect(b == before)
    }

    @Test func levelOneRoutinesMatchTheReferenceLoops() throws {
        try forAll("dot, norm, axpy, scale", cases: 60) { c in
            let n = c.size(0...2000)
            let x = c.vector(count: n), y = c.vector(count: n)
            let alpha = c.double(in: -3...3)
            c.note("n=\(n) α=\(alpha)")
            let dotRef = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
            let dotSize = zip(x, y).reduce(0) { $0 + abs($1.0 * $1.1) }
            try c.expect(abs(BLAS.dot(x, y) - dotRef) <= componentwiseBound(inner: n) * dotSize, "dot")
            let normRef = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
            try c.expect(abs(BLAS.norm(x) - normRef) <= componentwiseBound(inner: n) * normRef, "norm")
            var z = y
            BLAS.axpy(alpha, x, &z)
            for i in 0..<n {
                try c.expect(abs(z[i] - (alpha * x[i] + y[i])) <= 2 * eps * (abs(alpha * x[i]) + abs(y[i])), "axpy[\(i)]")
            }
            var s = x
            BLAS.scale(&s, by: alpha)
            for i in 0..<n { try c.expect(abs(s[i] - alpha * x[i]) <= eps * abs(alpha * x[i]), "scale[\(i)]") }
        }
        // Scaling huge entries must not overflow the norm.
        #expect(abs(BLAS.norm([1e200, 1e200]) / (1e200 * 2.0.squareRoot()) - 1) <= 2 * eps)
    }

    @Test func shapeMismatchesAreTypedErrorsAndLeaveTheOutputAlone() throws {
        let a = Matrix(rows: 3, columns: 4, repeating: 1)
        var y = [1.0, 2, 3]
        #expect(throws: LinearAlgebraError.self) { try BLAS.gemv(.none, a, [1, 2, 3], &y) }
        #expect(throws: LinearAlgebraError.self) { try BLAS.gemv(.transpose, a, [1, 2, 3], &y) }
        #expect(throws: LinearAlgebraError.self) { try BLAS.gemv(.none, a, columns: 0..<2, [1, 2, 3], &y) }
        #expect(y == [1, 2, 3])
        var c = Matrix(rows: 3, columns: 3, repeating: 7)
        let before = c
        #expect(throws: LinearAlgebraError.self) { try BLAS.gemm(.none, .none, a, a, &c) }
        #expect(throws: LinearAlgebraError.self) { try BLAS.gemm(.none, .transpose, a, columns: 0..<4, a, columns: 0..<4, beta: 0, &c, columns: 0..<2) }
        #expect(throws: LinearAlgebraError.self) { try BLAS.syrk(.transpose, a, &c) }
        #expect(c == before)
        do {
            try BLAS.gemm(.none, .none, a, a, &c)
        } catch let error as LinearAlgebraError {
            guard case .dimensionMismatch(let operation, _, _) = error else {
                Issue.record("wrong error \(error)"); return
            }
            #expect(operation == "gemm")
        }
    }
}
