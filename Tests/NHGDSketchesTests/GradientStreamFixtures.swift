import NHGDLinearAlgebra
import NHGDSketches
import NHGDTestSupport

/// The spectra the random gradient streams are drawn from.
enum StreamKind: CaseIterable, CustomStringConvertible {
    /// `g = U diag(s) z + ε n`: a rank-r signal (s log-spaced over 10³) plus isotropic noise.
    case lowRankPlusNoise
    /// `g = Q diag(i^{-α}) z` times a Pareto(1.5) magnitude per gradient: power-law spectrum
    /// and heavy-tailed norms, so single gradients can dominate a block.
    case heavyTailed
    /// Isotropic Gaussian: flat spectrum, the worst case for FD's Δ.
    case isotropic

    var description: String {
        switch self {
        case .lowRankPlusNoise: "low-rank+noise"
        case .heavyTailed: "heavy-tailed"
        case .isotropic: "isotropic"
        }
    }
}

/// One `ingest` call.
struct GradientBlockEvent {
    var gradients: Matrix
    var weights: [Double]?
    var forgetting: Double
}

extension PropertyCase {
    /// A random stream of `blocks` blocks of 1…`maxBlock` gradients of length p, with random
    /// weights (some zero, sometimes `nil`) and forgetting factors (some exactly 1).
    mutating func gradientStream(
        dimension p: Int, blocks: Int, maxBlock: Int = 8, kind: StreamKind, signalRank r: Int? = nil,
        noise: Double? = nil
    ) -> [GradientBlockEvent] {
        let rank = max(1, min(p, r ?? int(in: 1...max(1, p / 3))))
        let basis = orthonormalColumns(rows: p, columns: kind == .lowRankPlusNoise ? rank : p)
        let signal = kind == .lowRankPlusNoise
            ? logSpacedSpectrum(count: rank, conditionNumber: 1e3, largest: 10)
            : (0..<p).map { 1 / Double($0 + 1).squareRoot() }
        let epsilon = noise ?? (bool() ? 0 : 1e-2)
        var events: [GradientBlockEvent] = []
        for t in 0..<blocks {
            let b = int(in: 1...maxBlock)
            var z = Matrix(rows: basis.columns, columns: b)
            for j in 0..<b { for i in 0..<basis.columns { z[i, j] = gaussian() * signal[i] } }
            var g = Matrix(rows: p, columns: b)
            try! BLAS.gemm(.none, .none, basis, z, &g)
            switch kind {
            case .lowRankPlusNoise:
                for i in 0..<g.storage.count { g.storage[i] += epsilon * gaussian() }
            case .heavyTailed:
                for j in 0..<b {
                    let magnitude = pow(1 - unit(), -1 / 1.5)   // Pareto(1.5), ≥ 1
                    for i in 0..<p { g[i, j] *= magnitude }
                }
            case .isotropic:
                g = gaussianMatrix(rows: p, columns: b)
            }
            let weights: [Double]? = bool() ? nil : (0..<b).map { _ in unit() < 0.1 ? 0 : double(in: 0.1...2) }
            let beta = t == 0 || unit() < 0.1 ? 1 : double(in: 0.05...0.9)
            events.append(GradientBlockEvent(gradients: g, weights: weights, forgetting: beta))
        }
        return events
    }
}

/// The exact decayed stream, kept as its scaled rows: `A` (p×N) with `AAᵀ = F`. Its columns are
/// `√(decay·β wᵢ / b)·gᵢ`, built with the same rule the sketches document, but independently.
struct DecayedStreamReference {
    let dimension: Int
    /// The raw gradients and their current squared scales.
    var gradients: [[Double]] = []
    var squaredScales: [Double] = []

    init(dimension: Int) { self.dimension = dimension }

    mutating func ingest(_ event: GradientBlockEvent) {
        for i in squaredScales.indices { squaredScales[i] *= 1 - event.forgetting }
        let b = event.gradients.columns
        for j in 0..<b {
            gradients.append(event.gradients.column(j))
            squaredScales.append(event.forgetting * (event.weights?[j] ?? 1) / Double(b))
        }
    }

    /// A, p×N (or its last `window` columns).
    func rows(lastColumns window: Int? = nil) -> Matrix {
        let n = gradients.count, first = max(0, n - (window ?? n))
        var a = Matrix(rows: dimension, columns: n - first)
        for j in first..<n {
            let s = squaredScales[j].squareRoot()
            for i in 0..<dimension { a[i, j - first] = s * gradients[j][i] }
        }
        return a
    }

    /// `F = AAᵀ` (or the window's).
    func fisher(lastColumns window: Int? = nil) -> Matrix {
        let a = rows(lastColumns: window)
        var f = Matrix(rows: dimension, columns: dimension)
        try! BLAS.syrk(.none, a, &f)
        return f
    }

    /// `‖A‖_F² = tr F`.
    var frobeniusSquared: Double {
        zip(gradients, squaredScales).reduce(0) { $0 + $1.1 * $1.0.reduce(0) { $0 + $1 * $1 } }
    }

    /// `(1/b)·decay`-weighted Frobenius mass of all but the last `window` rows.
    func evictedMass(window: Int) -> Double {
        let n = gradients.count
        return (0..<max(0, n - window)).reduce(0) { sum, j in
            sum + squaredScales[j] * gradients[j].reduce(0) { $0 + $1 * $1 }
        }
    }
}

/// `X − Y` for two matrices of one shape.
func difference(_ x: Matrix, _ y: Matrix) -> Matrix {
    var d = x
    for i in 0..<d.storage.count { d.storage[i] -= y.storage[i] }
    return d
}

/// Eigenvalues (ascending) of a symmetric matrix.
func eigenvalues(_ s: Matrix) throws -> [Double] {
    try SymmetricEigendecomposition(s).values
}

/// The sketch's estimate as a dense matrix (`diag(d) + UUᵀ`).
func materialized(_ sketch: some FisherSketch) throws -> Matrix {
    try sketch.lowRankPlusDiagonal(adding: nil).materialized()
}

/// Rounding slack for FD comparisons against the dense reference.
///
/// Each shrink forms a Gram matrix (entry errors ≤ γ_p‖M‖_F², γ_n = n·u), eigen-decomposes it
/// (backward error O(m·u·‖K‖₂)) and rotates (errors ≤ γ_m‖M‖_F²); the structured Gram adds the
/// kept columns' orthogonality drift, itself of this size per shrink since the last full Gram.
/// With ‖M‖_F² ≤ ‖A‖_F² (decayed mass only shrinks) each shrink contributes at most a small
/// multiple of (p + 2ℓ)·u·‖A‖_F² to the error of the represented Fisher, and the shrinks add.
/// The factor 8 covers the constants; any algorithmic mistake is of the size of Δ or of
/// ‖A‖_F² itself, many orders above this.
func roundingSlack(dimension p: Int, rank: Int, shrinks: Int, frobeniusSquared: Double) -> Double {
    8 * Double(shrinks + 1) * Double(p + 2 * rank) * Double.ulpOfOne * frobeniusSquared
}

import Foundation
