import Foundation
import NHGDLinearAlgebra

/// One case of a property: a seeded generator plus a size budget, and the notes to print if
/// the case fails.
///
/// Every draw comes from ``rng``, which is seeded from ``seed`` alone, so a case is replayed
/// exactly by its seed and size budget (see ``forAll(_:cases:baseSeed:environment:function:_:)``).
/// Sizes drawn with ``size(_:)`` are monotone in the budget for a fixed seed, which is what
/// lets the runner shrink a failure by replaying its seed with smaller budgets.
public struct PropertyCase {
    /// The seed this case's generator started from (print it in hex to replay).
    public let seed: UInt64
    /// The size budget in [0, 1]: 0 draws every ``size(_:)`` at its lower bound, 1 allows the full range.
    public let sizeBudget: Double
    /// The generator for anything the helpers below do not cover.
    public var rng: Xoshiro256StarStar
    /// Lines recorded with ``note(_:)``; they are printed with a failure.
    public private(set) var notes: [String] = []

    /// A case drawing from `Xoshiro256StarStar(seed: seed)` with the given budget (clamped to [0, 1]).
    public init(seed: UInt64, sizeBudget: Double) {
        self.seed = seed
        self.sizeBudget = Swift.min(1, Swift.max(0, sizeBudget.isNaN ? 1 : sizeBudget))
        self.rng = Xoshiro256StarStar(seed: seed)
    }

    /// Records a line shown in the failure report (sizes, parameters, intermediate values).
    public mutating func note(_ line: String) {
        notes.append(line)
    }

    // MARK: Scalars

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func unit() -> Double {
        Double(rng.next() >> 11) * 0x1.0p-53
    }

    /// An integer in `range` scaled by the size budget: `lower + ⌊u · budget · (upper − lower + 1)⌋`
    /// (capped at `upper`) with `u` uniform in [0, 1). One draw per call whatever the budget, so
    /// replaying a seed with a smaller budget gives sizes no larger, in the same stream position.
    public mutating func size(_ range: ClosedRange<Int>) -> Int {
        let u = unit()
        let span = Double(range.upperBound - range.lowerBound) + 1
        let offset = Int((u * sizeBudget * span).rounded(.down))
        return Swift.min(range.upperBound, range.lowerBound + offset)
    }

    /// An integer uniform in `range`, not scaled by the budget.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &rng)
    }

    /// A double uniform in `range`.
    public mutating func double(in range: ClosedRange<Double>) -> Double {
        range.lowerBound + unit() * (range.upperBound - range.lowerBound)
    }

    /// A double whose logarithm is uniform: `exp(U(log lower, log upper))`, for scales and
    /// condition numbers spread over decades. Requires `lower > 0`.
    public mutating func logUniform(in range: ClosedRange<Double>) -> Double {
        precondition(range.lowerBound > 0, "logUniform needs a positive range")
        let lo = log(range.lowerBound), hi = log(range.upperBound)
        return Swift.min(range.upperBound, Swift.max(range.lowerBound, exp(lo + unit() * (hi - lo))))
    }

    /// A fair coin.
    public mutating func bool() -> Bool {
        rng.next() & 1 == 1
    }

    /// A standard normal deviate.
    public mutating func gaussian() -> Double {
        rng.nextGaussian()
    }

    // MARK: Vectors

    /// A vector of `count` independent standard normal entries.
    public mutating func vector(count: Int) -> [Double] {
        (0..<count).map { _ in rng.nextGaussian() }
    }

    /// A vector of `count` entries uniform in `range`.
    public mutating func vector(count: Int, in range: ClosedRange<Double>) -> [Double] {
        (0..<count).map { _ in double(in: range) }
    }

    /// A vector of `count` entries log-uniform in `range` (positive diagonals over decades).
    public mutating func logUniformVector(count: Int, in range: ClosedRange<Double>) -> [Double] {
        (0..<count).map { _ in logUniform(in: range) }
    }

    // MARK: Matrices

    /// A `rows × columns` matrix of independent standard normal entries.
    public mutating func gaussianMatrix(rows: Int, columns: Int) -> Matrix {
        Matrix.gaussian(rows: rows, columns: columns, using: &rng)
    }

    /// A `rows × columns` matrix (`rows ≥ columns`) with orthonormal columns: the `Q` of the
    /// thin QR factorisation of a Gaussian matrix (Haar-distributed up to column signs).
    public mutating func orthonormalColumns(rows: Int, columns: Int) -> Matrix {
        precondition(rows >= columns, "orthonormalColumns needs rows ≥ columns")
        if columns == 0 { return Matrix(rows: rows, columns: 0) }
        let g = gaussianMatrix(rows: rows, columns: columns)
        // A Gaussian matrix has full column rank with probability one, and dgeqrf cannot fail
        // on finite input, so this `try!` only traps on a library bug.
        return try! QRFactorization(g).q
    }

    /// The symmetric matrix `Q diag(λ) Qᵀ` with `Q` a random orthogonal matrix: its spectrum
    /// is exactly `eigenvalues` up to rounding (≈ n·eps·max|λ|). The result is exactly symmetric.
    /// - Complexity: O(n³) (a QR and a product).
    public mutating func symmetricMatrix(eigenvalues: [Double]) -> Matrix {
        let n = eigenvalues.count
        let q = orthonormalColumns(rows: n, columns: n)
        return symmetricProduct(q, eigenvalues)
    }

    /// A symmetric positive-definite `n × n` matrix with eigenvalues log-spaced in
    /// `[largest/κ, largest]`: `λᵢ = largest · κ^{−i/(n−1)}`, so `κ₂(A) = conditionNumber` exactly
    /// in exact arithmetic (for n ≥ 2).
    public mutating func spdMatrix(dimension n: Int, conditionNumber: Double, largest: Double = 1) -> Matrix {
        symmetricMatrix(eigenvalues: logSpacedSpectrum(count: n, conditionNumber: conditionNumber, largest: largest))
    }

    /// A `rows × columns` matrix with the given singular values (`singularValues.count ==
    /// columns ≤ rows`): `Q diag(σ)` with `Q` orthonormal columns, so its Gram matrix
    /// `diag(σ) Qᵀ Q diag(σ) = diag(σ²)` and `(Q diag(σ))(Q diag(σ))ᵀ` has eigenvalues σ² and zeros.
    public mutating func matrix(rows: Int, singularValues: [Double]) -> Matrix {
        var q = orthonormalColumns(rows: rows, columns: singularValues.count)
        for (j, s) in singularValues.enumerated() {
            q.storage.withUnsafeMutableBufferPointer { b in
                for i in (j * rows)..<((j + 1) * rows) { b[i] *= s }
            }
        }
        return q
    }
}

/// `largest · κ^{−i/(n−1)}` for i = 0…n−1 (descending, log-spaced from `largest` to
/// `largest/κ`); a single element is `[largest]`.
public func logSpacedSpectrum(count n: Int, conditionNumber: Double, largest: Double = 1) -> [Double] {
    precondition(conditionNumber >= 1, "condition number must be ≥ 1")
    if n == 0 { return [] }
    if n == 1 { return [largest] }
    let logK = log(conditionNumber)
    return (0..<n).map { i in largest * exp(-logK * Double(i) / Double(n - 1)) }
}

/// `Q diag(λ) Qᵀ` for square `Q`, computed as `(Q diag(λ)) Qᵀ` with one `gemm`, then made
/// exactly symmetric by copying the lower triangle.
func symmetricProduct(_ q: Matrix, _ lambda: [Double]) -> Matrix {
    let n = q.rows
    var scaled = q
    for j in 0..<lambda.count {
        scaled.storage.withUnsafeMutableBufferPointer { b in
            for i in (j * n)..<((j + 1) * n) { b[i] *= lambda[j] }
        }
    }
    var a = Matrix(rows: n, columns: n)
    // Shapes agree by construction.
    try! BLAS.gemm(.none, .transpose, scaled, q, &a)
    a.symmetrizeFromLower()
    return a
}
