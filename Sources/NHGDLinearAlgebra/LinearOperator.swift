/// A symmetric linear map on ℝⁿ known only through its action: the shape every iterative
/// solver here (conjugate gradients, Neumann series) consumes, as in jaxopt's `matvec`.
public protocol LinearOperator {
    /// n, the length of the vectors it maps.
    var dimension: Int { get }
    /// `y ← A v`, writing into caller-owned storage of length n (no allocation).
    func apply(_ v: [Double], into y: inout [Double]) throws
}

extension LinearOperator {
    /// `A v` as a new vector.
    public func apply(_ v: [Double]) throws -> [Double] {
        var y = [Double](repeating: 0, count: dimension)
        try apply(v, into: &y)
        return y
    }
}

/// Checks that `v` is finite, naming the operation and argument in the error.
@inlinable
public func requireFinite(_ v: [Double], _ operation: String, _ argument: String) throws {
    if let bad = v.firstNonFiniteIndex {
        throw LinearAlgebraError.nonFinite(operation: operation, argument: argument, index: bad)
    }
}

/// Checks that `v` has length `n`.
@inlinable
public func requireLength(_ v: [Double], _ n: Int, _ operation: String, _ argument: String) throws {
    if v.count != n {
        throw LinearAlgebraError.dimensionMismatch(
            operation: operation, expected: "\(argument) of length \(n)", actual: "length \(v.count)")
    }
}
