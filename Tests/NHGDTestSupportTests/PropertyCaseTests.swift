import Foundation
import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// The generators: determinism, independence of split streams, size scaling, and that the
/// structured matrices have the spectra they claim.
struct PropertyCaseTests {
    @Test func sameSeedAndBudgetDrawTheSameValues() {
        var a = PropertyCase(seed: 0xDEAD_BEEF, sizeBudget: 0.7)
        var b = PropertyCase(seed: 0xDEAD_BEEF, sizeBudget: 0.7)
        #expect(a.size(1...300) == b.size(1...300))
        #expect(a.double(in: -3...5) == b.double(in: -3...5))
        #expect(a.vector(count: 17) == b.vector(count: 17))
        #expect(a.gaussianMatrix(rows: 5, columns: 3) == b.gaussianMatrix(rows: 5, columns: 3))
        #expect(a.spdMatrix(dimension: 6, conditionNumber: 1e3) == b.spdMatrix(dimension: 6, conditionNumber: 1e3))
        var c = PropertyCase(seed: 0xDEAD_BEEF + 1, sizeBudget: 0.7)
        var d = PropertyCase(seed: 0xDEAD_BEEF, sizeBudget: 0.7)
        #expect(c.vector(count: 8) != d.vector(count: 8))
    }

    /// Split streams must neither repeat the parent nor each other, and must be uncorrelated:
    /// with n = 20 000 pairs the sample correlation of independent uniforms has standard
    /// deviation 1/√n ≈ 0.007, so |r| < 0.05 is a seven-sigma bound.
    @Test func splitStreamsAreIndependent() {
        var parent = Xoshiro256StarStar(seed: 42)
        var first = parent.split()
        var second = parent.split()
        let n = 20_000
        var xs = [Double](), ys = [Double](), zs = [Double]()
        for _ in 0..<n {
            xs.append(Double(first.next() >> 11) * 0x1p-53)
            ys.append(Double(second.next() >> 11) * 0x1p-53)
            zs.append(Double(parent.next() >> 11) * 0x1p-53)
        }
        #expect(xs != ys && xs != zs && ys != zs)
        #expect(abs(correlation(xs, ys)) < 0.05)
        #expect(abs(correlation(xs, zs)) < 0.05)
        #expect(abs(correlation(ys, zs)) < 0.05)
        // Uniform mean 1/2 with standard error √(1/12n) ≈ 0.002.
        #expect(abs(xs.reduce(0, +) / Double(n) - 0.5) < 0.01)
    }

    @Test func sizeStaysInRangeAndGrowsWithTheBudget() {
        var maxAtFull = 0
        for seed in UInt64(0)..<200 {
            var zero = PropertyCase(seed: seed, sizeBudget: 0)
            #expect(zero.size(3...40) == 3)
            var sizes = [Int]()
            for budget in [0.1, 0.25, 0.5, 0.75, 1.0] {
                var c = PropertyCase(seed: seed, sizeBudget: budget)
                let s = c.size(3...40)
                #expect((3...40).contains(s))
                // The upper reach is lower + budget·span.
                #expect(Double(s - 3) <= budget * 38 + 1)
                sizes.append(s)
            }
            #expect(sizes == sizes.sorted(), "sizes must be monotone in the budget (seed \(seed))")
            maxAtFull = max(maxAtFull, sizes.last!)
        }
        // 200 uniform draws over 38 values: missing the top two has probability (36/38)^200 ≈ 2e-5.
        #expect(maxAtFull >= 39)
    }

    @Test func uniformAndLogUniformDrawsStayInRange() {
        var c = PropertyCase(seed: 7, sizeBudget: 1)
        for _ in 0..<1000 {
            #expect((0.1...10).contains(c.double(in: 0.1...10)))
            #expect((1...1e10).contains(c.logUniform(in: 1...1e10)))
        }
        let logs = (0..<4000).map { _ in log10(c.logUniform(in: 1...1e10)) }
        // log10 is uniform on [0, 10]: mean 5, standard error √(100/12/4000) ≈ 0.046.
        #expect(abs(logs.reduce(0, +) / 4000 - 5) < 0.25)
    }

    @Test func logSpacedSpectrumHasTheRequestedEndpoints() {
        let s = logSpacedSpectrum(count: 11, conditionNumber: 1e10, largest: 2)
        #expect(s.count == 11)
        #expect(s.first == 2)
        #expect(abs(s.last! / 2e-10 - 1) < 1e-12)
        for i in 1..<s.count { #expect(abs(s[i - 1] / s[i] / 10 - 1) < 1e-12) }
        #expect(logSpacedSpectrum(count: 1, conditionNumber: 1e6) == [1])
        #expect(logSpacedSpectrum(count: 0, conditionNumber: 1e6) == [])
    }

    @Test func orthonormalColumnsAreOrthonormal() throws {
        var c = PropertyCase(seed: 11, sizeBudget: 1)
        for (m, n) in [(1, 1), (7, 3), (40, 40), (100, 5)] {
            let q = c.orthonormalColumns(rows: m, columns: n)
            var gram = Matrix(rows: n, columns: n)
            try BLAS.gemm(.transpose, .none, q, q, &gram)
            // Householder QR gives ‖QᵀQ − I‖ = O(m·eps).
            #expect(maxAbsDifference(gram, .identity(n)) <= 10 * Double(m) * .ulpOfOne)
        }
    }

    /// `Q diag(λ) Qᵀ` reproduces λ: by Weyl's inequality each computed eigenvalue is within
    /// ‖E‖₂ of the exact one, and the rounding E of the product is O(n·eps·max|λ|).
    @Test func generatedSPDMatricesHaveTheRequestedSpectrumAndCondition() throws {
        for (seed, n, kappa) in [(1, 1, 1e3), (2, 2, 10.0), (3, 30, 1e6), (4, 80, 1e10), (5, 50, 1.0)] as [(UInt64, Int, Double)] {
            var c = PropertyCase(seed: seed, sizeBudget: 1)
            let a = c.spdMatrix(dimension: n, conditionNumber: kappa)
            #expect(a == a.transposed)
            let eig = try SymmetricEigendecomposition(a)
            let want = logSpacedSpectrum(count: n, conditionNumber: kappa).reversed() as [Double]
            let tolerance = 10 * Double(n) * .ulpOfOne
            #expect(maxAbsDifference(eig.values, want) <= tolerance, "n=\(n) κ=\(kappa)")
            // The smallest eigenvalue 1/κ is resolved relatively when 1/κ ≫ tolerance.
            // A 1×1 matrix has condition 1 whatever was asked.
            let expectedKappa = n == 1 ? 1 : kappa
            let computedKappa = eig.values.last! / eig.values.first!
            let kappaTolerance = expectedKappa * expectedKappa * tolerance
            #expect(abs(computedKappa - expectedKappa) <= kappaTolerance, "κ \(computedKappa) vs \(expectedKappa)")
        }
    }

    @Test func symmetricMatricesMayBeIndefinite() throws {
        var c = PropertyCase(seed: 9, sizeBudget: 1)
        let lambda = [-3.0, -1e-3, 0, 2, 5]
        let s = c.symmetricMatrix(eigenvalues: lambda)
        #expect(s == s.transposed)
        let eig = try SymmetricEigendecomposition(s)
        #expect(maxAbsDifference(eig.values, lambda) <= 10 * 5 * 5 * .ulpOfOne)
    }

    @Test func matrixWithSingularValuesHasThem() throws {
        var c = PropertyCase(seed: 13, sizeBudget: 1)
        let sigma = [1e4, 3, 1e-2]
        let m = c.matrix(rows: 20, singularValues: sigma)
        let svd = try SingularValueDecomposition(m)
        #expect(maxAbsDifference(svd.singularValues, sigma) <= 10 * 20 * .ulpOfOne * 1e4)
    }
}

func correlation(_ x: [Double], _ y: [Double]) -> Double {
    let n = Double(x.count)
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for (a, b) in zip(x, y) {
        sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my)
    }
    return sxy / (sxx * syy).squareRoot()
}
