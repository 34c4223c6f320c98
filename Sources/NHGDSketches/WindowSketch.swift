import NHGDLinearAlgebra

/// The exact empirical Fisher of the last `capacity` gradients: a ring buffer of their scaled
/// columns (ALGORITHMS.md §5, a comparison point for the sketches).
///
/// **Forgetting.** The window applies β exactly as the stream does: a column `aᵢ` (for a
/// per-sample gradient `√(β wᵢ / b)·gᵢ`) enters as it is and every later ingest scales it by
/// `√(1 − β)`, so the estimate is
///
/// ```
/// F̂ = Σ_{i in window} (decay of i) · aᵢ aᵢᵀ,
/// ```
///
/// the decayed Fisher `F` with the columns older than the window dropped. It is exact on
/// the window, and `F − F̂` is the (positive semidefinite) part that fell out, so
/// `‖F − F̂‖₂ ≤ tr(F − F̂) = Σ_{evicted} (decay)·‖aᵢ‖²`: that decayed evicted mass is
/// `spectralErrorBound`. (With β = 1 on every block the window holds only the last block.)
///
/// Forgetting costs O(1) (a common scale c with `F̂ = c² RRᵀ`); an ingest costs O(p·s) and
/// allocates nothing.
public struct WindowSketch: FisherSketch, Equatable {
    public let dimension: Int
    /// k, the number of gradients kept.
    public let capacity: Int
    /// Stored columns; `columnScale · ring[:, 0..<filledColumns]` are the window's rows.
    var ring: Matrix
    /// Number of columns in use (≤ k).
    public internal(set) var filledColumns = 0
    /// Column the next gradient is written to.
    var head = 0
    var columnScale = 1.0
    /// Decayed `Σ ‖aᵢ‖²` over evicted gradients.
    public internal(set) var evictedMass = 0.0
    public internal(set) var ingestedCount = 0

    /// - Throws: `invalidArgument` for p < 1 or k < 1.
    public init(dimension: Int, capacity: Int) throws {
        try requirePositive(dimension, "dimension", "WindowSketch.init")
        try requirePositive(capacity, "capacity", "WindowSketch.init")
        self.dimension = dimension
        self.capacity = capacity
        ring = Matrix(rows: dimension, columns: capacity)
    }

    /// - Complexity: O(p·s) for s columns, plus O(p) per evicted column for its norm.
    public mutating func ingest(_ block: Matrix, columns: Range<Int>, forgetting beta: Double) throws {
        try validateIngest(block, columns: columns, forgetting: beta, dimension: dimension,
                           operation: "WindowSketch.ingest")
        if beta == 1 {
            filledColumns = 0
            head = 0
            columnScale = 1
            evictedMass = 0
        } else {
            columnScale *= (1 - beta).squareRoot()
            evictedMass *= 1 - beta
            if columnScale < 0x1p-400 { foldColumnScale() }
        }
        let p = dimension
        for j in columns {
            if filledColumns == capacity {
                let norm = ring.storage.withUnsafeBufferPointer { s in
                    var sum = 0.0
                    for i in (head * p)..<((head + 1) * p) { sum += s[i] * s[i] }
                    return sum
                }
                evictedMass += columnScale * columnScale * norm
            }
            ring.storage.withUnsafeMutableBufferPointer { dst in
                block.storage.withUnsafeBufferPointer { src in
                    let from = src.baseAddress! + j * p, to = dst.baseAddress! + head * p
                    for i in 0..<p { to[i] = from[i] / columnScale }
                }
            }
            head = (head + 1) % capacity
            filledColumns = min(filledColumns + 1, capacity)
        }
        ingestedCount += columns.count
    }

    mutating func foldColumnScale() {
        let c = columnScale, count = dimension * filledColumns
        ring.storage.withUnsafeMutableBufferPointer { s in
            for i in 0..<count { s[i] *= c }
        }
        columnScale = 1
    }

    public mutating func reset() {
        filledColumns = 0
        head = 0
        columnScale = 1
        evictedMass = 0
        ingestedCount = 0
    }

    /// `extraDiagonal + U Uᵀ` with `U = c·R` the window's scaled gradients (p×min(n, k)).
    /// - Complexity: O(p·k) (a copy).
    public func lowRankPlusDiagonal(adding extraDiagonal: [Double]?) throws -> LowRankPlusDiagonal {
        let d = try validatedExtraDiagonal(extraDiagonal, dimension: dimension,
                                           operation: "WindowSketch.lowRankPlusDiagonal")
        var u = ring.leadingColumns(filledColumns)
        BLAS.scale(&u.storage, by: columnScale)
        return try LowRankPlusDiagonal(diagonal: d, factor: u)
    }

    /// The decayed mass of the evicted gradients, a bound on what the window dropped.
    public var spectralErrorBound: Double { evictedMass }

    public var byteCount: Int { ring.byteCount }
}
