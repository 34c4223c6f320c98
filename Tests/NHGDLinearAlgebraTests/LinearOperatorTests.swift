import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// A dense symmetric operator that implements only `apply(_:into:)` and counts its calls: the
/// shape of a user's Hessian-vector-product operator, which gets the default block apply.
final class CountingDenseOperator: LinearOperator {
    let matrix: Matrix
    private(set) var applications = 0
    init(_ matrix: Matrix) { self.matrix = matrix }
    var dimension: Int { matrix.rows }
    func apply(_ v: [Double], into y: inout [Double]) throws {
        try requireLength(v, dimension, "CountingDenseOperator.apply", "v")
        try requireFinite(v, "CountingDenseOperator.apply", "v")
        applications += 1
        try BLAS.gemv(.none, matrix, v, &y)
    }
}

/// The default `apply(block:)` of `LinearOperator`, and that conformers with their own block
/// apply are dispatched to it through the protocol.
struct LinearOperatorTests {
    /// The default applies the operator once per column, through `apply(_:into:)`, so each
    /// column of the result is bit for bit that column's single apply (the same `gemv` on the
    /// same data, below OpenBLAS's threading threshold at these sizes), and an empty block
    /// costs nothing.
    @Test func defaultBlockApplyIsColumnByColumn() throws {
        try forAll("default block apply", cases: 40) { c in
            let p = c.size(1...80), m = c.size(0...6)
            let op = CountingDenseOperator(c.symmetricMatrix(eigenvalues: c.vector(count: p)))
            let v = c.gaussianMatrix(rows: p, columns: m)
            c.note("p=\(p) m=\(m)")
            let block = try op.apply(block: v)
            try c.expect(block.rows == p && block.columns == m, "shape \(block.rows)×\(block.columns)")
            try c.expect(op.applications == m, "\(op.applications) applications for \(m) columns")
            for j in 0..<m {
                try c.expect(block.column(j) == (try op.apply(v.column(j))), "column \(j) differs from its single apply")
            }
            try c.expectThrows("wrong rows", matching: {
                if case .dimensionMismatch = $0 as? LinearAlgebraError { return true }
                return false
            }) { try op.apply(block: Matrix(rows: p + 1, columns: 1)) }
            // A column the operator refuses: its error, with the index within the column.
            if m > 0 {
                var poisoned = v
                let (row, column) = (c.int(in: 0...(p - 1)), c.int(in: 0...(m - 1)))
                poisoned[row, column] = .nan
                try c.expectThrows("NaN in the block", matching: {
                    $0 as? LinearAlgebraError == .nonFinite(operation: "CountingDenseOperator.apply", argument: "v", index: row)
                }) { try op.apply(block: poisoned) }
            }
        }
    }

    /// `LowRankPlusDiagonal` has its own block apply (two `gemm`s); called through a generic
    /// `some LinearOperator` it is still the one used, which shows in its error: the index of a
    /// NaN is into the whole block's storage, where the default would give the index within
    /// the column. `WoodburyFactorization` has none and gets the default: `(A + λI)V`.
    @Test func conformersWithABlockApplyAreDispatchedToIt() throws {
        func blockThroughProtocol(_ op: some LinearOperator, _ v: Matrix) throws -> Matrix { try op.apply(block: v) }
        let p = 5
        let d = [1.0, 2, 3, 4, 5]
        let u = try Matrix(rows: p, columns: 2, storage: (0..<(2 * p)).map { Double($0 % 3) - 1 })
        let op = try LowRankPlusDiagonal(diagonal: d, factor: u)
        var v = Matrix(rows: p, columns: 2, repeating: 1)
        v[3, 1] = .nan
        #expect(throws: LinearAlgebraError.nonFinite(operation: "LowRankPlusDiagonal.apply(block:)", argument: "V", index: p + 3)) {
            try blockThroughProtocol(op, v)
        }
        v[3, 1] = 2
        let woodbury = try op.factorized(damping: 0.5)
        let viaDefault = try blockThroughProtocol(woodbury, v)
        var expected = try op.apply(block: v)
        for j in 0..<2 { for i in 0..<p { expected[i, j] += 0.5 * v[i, j] } }
        // Entries are sums of at most 4 terms of size ≤ 10: a few ulps of 100 at most.
        #expect(maxAbsDifference(viaDefault, expected) <= 64 * eps)
    }
}
