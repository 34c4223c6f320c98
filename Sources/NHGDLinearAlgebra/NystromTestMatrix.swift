/// How the k columns of a Nyström test matrix Ω are chosen (see ``NystromTestMatrix``).
public enum NystromColumns: Sendable, Equatable {
    /// Independent standard normal entries, orthonormalised by a thin QR when `orthonormalized`
    /// (the default, as in Frangella, Tropp and Udell 2023, Algorithm 2.1): the approximation
    /// `Ĥ = HΩ (ΩᵀHΩ)⁺ ΩᵀH` depends only on range(Ω) in exact arithmetic, and orthonormal
    /// columns keep the k×k core `ΩᵀHΩ` as well conditioned as H allows. Without the QR (4pk²
    /// flops saved) the core is κ(Ω)² worse conditioned: fine for k ≪ p, not for k near p
    /// (see ``NystromApproximation``).
    case gaussian(orthonormalized: Bool = true)
    /// k distinct coordinates drawn uniformly without replacement: `HΩ` is k columns of H and
    /// `ΩᵀHΩ` its k×k principal submatrix (column sampling, as in Hataya and Yamada,
    /// "Nyström Method for Accurate and Scalable Implicit Differentiation", AISTATS 2023,
    /// whose implementation takes k Hessian columns).
    case coordinates
}

/// The test matrix Ω (p×k) of a Nyström approximation: a dense matrix, or k unit vectors.
///
/// Coordinates are kept as indices, so that a caller can compute `HΩ` as k columns of H and
/// nothing of size p×k is formed for Ω itself.
public enum NystromTestMatrix: Sendable, Equatable {
    /// A dense p×k Ω of full column rank (Gaussian, orthonormalised or not, or the caller's own).
    case dense(Matrix)
    /// `Ω = [e_{i₁}, …, e_{i_k}]` for k distinct indices in `0..<dimension`.
    case coordinates(indices: [Int], dimension: Int)

    /// p, the number of rows.
    public var dimension: Int {
        switch self {
        case .dense(let omega): return omega.rows
        case .coordinates(_, let p): return p
        }
    }

    /// k, the number of columns.
    public var columnCount: Int {
        switch self {
        case .dense(let omega): return omega.columns
        case .coordinates(let indices, _): return indices.count
        }
    }

    /// The RMS column norm `‖Ω‖_F/√k`: 1 for orthonormal columns and coordinates.
    var columnScale: Double {
        switch self {
        case .dense(let omega): return BLAS.norm(omega.storage) / Double(omega.columns).squareRoot()
        case .coordinates: return 1
        }
    }

    /// Draws a p×k test matrix of the given kind.
    ///
    /// Coordinates are sampled by Floyd's algorithm (k draws, O(k) memory; Bentley and Floyd,
    /// "A sample of brilliance", CACM 30(9), 1987) and returned in increasing order, so that
    /// gathering the rows `S` of a p×k block reads memory forwards.
    /// - Throws: `invalidArgument` unless `1 ≤ k ≤ p`.
    /// - Complexity: Gaussian: p·k normal draws, plus about 4pk² flops for the QR when
    ///   orthonormalised; coordinates: k draws and a sort.
    public static func draw(
        _ columns: NystromColumns, dimension p: Int, count k: Int, using rng: inout some RandomNumberGenerator
    ) throws -> NystromTestMatrix {
        try requireRank(k, dimension: p, "NystromTestMatrix.draw")
        switch columns {
        case .gaussian(let orthonormalized):
            let g = Matrix.gaussian(rows: p, columns: k, using: &rng)
            return .dense(orthonormalized ? try QRFactorization(g).q : g)
        case .coordinates:
            var chosen = Set<Int>(minimumCapacity: k)
            for j in (p - k)..<p {
                let t = Int.random(in: 0...j, using: &rng)
                chosen.insert(chosen.contains(t) ? j : t)
            }
            return .coordinates(indices: chosen.sorted(), dimension: p)
        }
    }

    /// Ω as a dense p×k matrix (for coordinates, the k unit vectors).
    /// - Complexity: O(pk).
    public func materialized() -> Matrix {
        switch self {
        case .dense(let omega):
            return omega
        case .coordinates(let indices, let p):
            var omega = Matrix(rows: p, columns: indices.count)
            for (j, i) in indices.enumerated() { omega[i, j] = 1 }
            return omega
        }
    }

    /// Checks the shape (`1 ≤ k ≤ p`), finiteness and non-zero columns (dense) and indices (in
    /// range, distinct).
    func validate(_ operation: String) throws {
        try requireRank(columnCount, dimension: dimension, operation)
        switch self {
        case .dense(let omega):
            if let bad = omega.firstNonFiniteIndex {
                throw LinearAlgebraError.nonFinite(operation: operation, argument: "test matrix Ω", index: bad)
            }
            for j in 0..<omega.columns where omega.storage[(j * omega.rows)..<((j + 1) * omega.rows)].allSatisfy({ $0 == 0 }) {
                throw LinearAlgebraError.invalidArgument(
                    operation: operation, message: "column \(j) of Ω is zero: Ω must have full column rank")
            }
        case .coordinates(let indices, let p):
            var seen = Set<Int>(minimumCapacity: indices.count)
            for (j, i) in indices.enumerated() {
                guard i >= 0 && i < p else {
                    throw LinearAlgebraError.invalidArgument(
                        operation: operation, message: "coordinate \(j) of Ω is \(i), outside 0..<\(p)")
                }
                guard seen.insert(i).inserted else {
                    throw LinearAlgebraError.invalidArgument(
                        operation: operation, message: "coordinate \(i) appears twice in Ω (column \(j))")
                }
            }
        }
    }

    /// `Y ← Y + ν Ω` (Y is p×k; for coordinates, k additions).
    func addScaled(_ nu: Double, to y: inout Matrix) {
        switch self {
        case .dense(let omega):
            BLAS.axpy(nu, omega.storage, &y.storage)
        case .coordinates(let indices, _):
            for (j, i) in indices.enumerated() { y[i, j] += nu }
        }
    }

    /// `Ωᵀ Y` (k×k) for a p×k `Y`: one `gemm` (2pk² flops), or for coordinates the rows S of Y.
    func transposeTimes(_ y: Matrix) throws -> Matrix {
        switch self {
        case .dense(let omega):
            var w = Matrix(rows: omega.columns, columns: y.columns)
            try BLAS.gemm(.transpose, .none, omega, y, &w)
            return w
        case .coordinates(let indices, _):
            var w = Matrix(rows: indices.count, columns: y.columns)
            for j in 0..<y.columns {
                for (r, i) in indices.enumerated() { w[r, j] = y[i, j] }
            }
            return w
        }
    }

    /// An orthonormal basis of range(Ω) (p×k): Ω itself for coordinates, the Q of a thin QR
    /// otherwise (which is Ω up to rounding when Ω is already orthonormal).
    func orthonormalBasis() throws -> Matrix {
        switch self {
        case .dense(let omega): return try QRFactorization(omega).q
        case .coordinates: return materialized()
        }
    }
}

/// Checks `1 ≤ k ≤ p` for a rank-k Nyström approximation of a p×p operator.
func requireRank(_ k: Int, dimension p: Int, _ operation: String) throws {
    guard k >= 1, k <= p else {
        throw LinearAlgebraError.invalidArgument(
            operation: operation, message: "the rank k must satisfy 1 ≤ k ≤ p = \(p), got k = \(k)")
    }
}
