import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// The error measures and the dense reference solve, against closed forms.
struct ErrorMeasuresTests {
    @Test func relativeErrorOfAScaledVectorIsTheScale() {
        let r = [3.0, -4, 0, 12]
        #expect(abs(relativeError(r.map { $0 * (1 + 1e-6) }, r) - 1e-6) < 1e-15)
        #expect(relativeError(r, r) == 0)
        #expect(relativeError([3, 4], [0, 0]) == 5, "absolute against a zero reference")
        #expect(relativeError([1], [1, 2]) == .infinity)
        #expect(maxAbsDifference([1, 2, 3], [1, 2.5, 2]) == 1)
        #expect(maxAbsDifference([1, .nan], [1, 2]).isNaN)
    }

    @Test func matrixNorms() throws {
        let a = try Matrix(rows: 2, columns: 2, storage: [3, 0, 0, -4])
        #expect(frobeniusNorm(a) == 5)
        #expect(abs(try spectralNorm(a) - 4) < 1e-15)
        #expect(try spectralNorm(Matrix(rows: 0, columns: 3)) == 0)
        var c = PropertyCase(seed: 3, sizeBudget: 1)
        let m = c.matrix(rows: 30, singularValues: [2, 7, 0.5])
        #expect(abs(try spectralNorm(m) - 7) < 1e-13)
        #expect(abs(frobeniusNorm(m) - (4.0 + 49 + 0.25).squareRoot()) < 1e-13)
        #expect(abs(relativeError(a, a) - 0) == 0)
        #expect(relativeError(a, Matrix(rows: 1, columns: 1)) == .infinity)
        let spd = c.spdMatrix(dimension: 10, conditionNumber: 1e4)
        #expect(abs(try conditionNumber(spd) / 1e4 - 1) < 1e-8)
    }

    @Test func referenceProductsMatchHandComputation() throws {
        let a = try Matrix(rows: 2, columns: 3, storage: [1, 4, 2, 5, 3, 6])  // [[1 2 3], [4 5 6]]
        #expect(referenceProduct(a, [1, 0, -1]) == [-2, -2])
        let b = try Matrix(rows: 3, columns: 1, storage: [1, 1, 1])
        #expect(referenceProduct(a, b).storage == [6, 15])
    }

    /// Backward stable Cholesky: `‖A x − b‖ ≤ c·n·eps·‖A‖‖x‖`.
    @Test func denseSolveSolvesAndRejectsIndefinite() throws {
        var c = PropertyCase(seed: 5, sizeBudget: 1)
        let a = c.spdMatrix(dimension: 25, conditionNumber: 1e8)
        let b = c.vector(count: 25)
        let x = try denseSolve(a, b)
        let residual = zip(referenceProduct(a, x), b).map { $0 - $1 }
        #expect(BLAS.norm(residual) <= 10 * 25 * .ulpOfOne * 1 * BLAS.norm(x))
        let block = try denseSolve(a, try Matrix(columns: [b, b]))
        // Two backward-stable solves of one system differ by at most ~κ·n·eps relatively.
        #expect(relativeError(block.column(1), x) <= 10 * 25 * .ulpOfOne * 1e8)
        let indefinite = c.symmetricMatrix(eigenvalues: [1, 2, -1])
        #expect(throws: LinearAlgebraError.self) { try denseSolve(indefinite, [1, 1, 1]) }
    }
}
