/// A p×p diagonal matrix, stored as one number when every entry is the same.
///
/// The curvature of a regulariser and the damping that NHGD adds to its Fisher sketch are
/// diagonal; most often they are a multiple of the identity (`c‖y‖²` has `∇²R = 2c I`). Keeping
/// that case as one number lets a Woodbury solve whose diagonal is scalar skip the p·k² build of
/// its capacitance (ALGORITHMS.md §8b), and makes "the diagonal did not change" an O(1) test.
public struct Diagonal: Sendable, Equatable {
    /// p.
    public let dimension: Int
    /// The common value when the diagonal is `c·I`, `nil` otherwise.
    public let uniformValue: Double?
    /// The p entries when the diagonal is not uniform (empty otherwise).
    private let storedEntries: [Double]

    /// `value · I` of dimension p.
    public static func uniform(_ value: Double, dimension: Int) -> Diagonal {
        precondition(dimension >= 0, "Diagonal: negative dimension")
        return Diagonal(dimension: dimension, uniformValue: value, storedEntries: [])
    }

    /// `diag(entries)`. Kept entry by entry even when they happen to be equal: use
    /// ``uniform(_:dimension:)`` to say that a diagonal is scalar by construction.
    public init(entries: [Double]) {
        self.init(dimension: entries.count, uniformValue: nil, storedEntries: entries)
    }

    private init(dimension: Int, uniformValue: Double?, storedEntries: [Double]) {
        self.dimension = dimension
        self.uniformValue = uniformValue
        self.storedEntries = storedEntries
    }

    /// Entry i.
    @inlinable
    public subscript(i: Int) -> Double {
        uniformValue ?? entryStorage[i]
    }

    @usableFromInline
    var entryStorage: [Double] { storedEntries }

    /// The p entries (allocates p doubles for a uniform diagonal).
    public var entries: [Double] {
        uniformValue.map { [Double](repeating: $0, count: dimension) } ?? storedEntries
    }

    /// The smallest entry (`+∞` for p = 0).
    public var minimum: Double {
        if dimension == 0 { return .infinity }
        return uniformValue ?? storedEntries.min()!
    }

    /// The largest entry (`−∞` for p = 0).
    public var maximum: Double {
        if dimension == 0 { return -.infinity }
        return uniformValue ?? storedEntries.max()!
    }

    /// Whether every entry is finite.
    public var isFinite: Bool {
        if let uniformValue { return uniformValue.isFinite }
        return storedEntries.firstNonFiniteIndex == nil
    }

    /// `self + c·I`, uniform when `self` is.
    public func adding(_ c: Double) -> Diagonal {
        if c == 0 { return self }
        if let uniformValue { return .uniform(uniformValue + c, dimension: dimension) }
        return Diagonal(entries: storedEntries.map { $0 + c })
    }

    /// `self + other` (same dimension), uniform when both are.
    public func adding(_ other: Diagonal) -> Diagonal {
        precondition(other.dimension == dimension, "Diagonal.adding: dimensions differ")
        if let a = uniformValue, let b = other.uniformValue { return .uniform(a + b, dimension: dimension) }
        if let b = other.uniformValue { return adding(b) }
        if let a = uniformValue { return other.adding(a) }
        var sum = storedEntries
        BLAS.axpy(1, other.storedEntries, &sum)
        return Diagonal(entries: sum)
    }

    /// `result += scale · D v`.
    /// - Complexity: one pass over `v` and `result`.
    public func addProduct(_ v: [Double], scaledBy scale: Double = 1, to result: inout [Double]) {
        precondition(v.count == dimension && result.count == dimension, "Diagonal.addProduct: lengths")
        if let uniformValue {
            BLAS.axpy(scale * uniformValue, v, &result)
            return
        }
        storedEntries.withUnsafeBufferPointer { d in
            v.withUnsafeBufferPointer { vp in
                result.withUnsafeMutableBufferPointer { r in
                    for i in 0..<dimension { r[i] += scale * d[i] * vp[i] }
                }
            }
        }
    }
}
