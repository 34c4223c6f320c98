import NHGDLinearAlgebra

/// Errors of the bilevel layer: problems, estimators and the optimiser. Errors of the layers
/// below (the linear algebra and the sketches) arrive wrapped once, as ``linearAlgebra(_:)``,
/// where an estimator is entered.
public enum BilevelError: Error, Equatable, CustomStringConvertible {
    /// A vector or block has the wrong size.
    case dimensionMismatch(operation: String, expected: String, actual: String)
    /// An input or an iterate contains NaN or ±∞.
    case nonFinite(operation: String, argument: String)
    /// A hyperparameter of a method or problem is out of its domain.
    case invalidHyperparameter(name: String, value: String, requirement: String)
    /// The method would need more memory than its budget allows.
    case exceedsMemoryBudget(method: String, bytesNeeded: Int, bytesAllowed: Int)
    /// An iteration produced NaN or ±∞; `hint` says which setting to change.
    case diverged(stage: String, hint: String)
    /// An error from the linear-algebra layer.
    case linearAlgebra(LinearAlgebraError)

    public var description: String {
        switch self {
        case let .dimensionMismatch(operation, expected, actual):
            return "\(operation): dimension mismatch, expected \(expected), got \(actual)"
        case let .nonFinite(operation, argument):
            return "\(operation): \(argument) contains NaN or infinity"
        case let .invalidHyperparameter(name, value, requirement):
            return "invalid \(name) = \(value): \(requirement)"
        case let .exceedsMemoryBudget(method, needed, allowed):
            return "\(method) needs \(formatBytes(needed)), more than its budget of \(formatBytes(allowed))"
        case let .diverged(stage, hint):
            return "\(stage) diverged: \(hint)"
        case let .linearAlgebra(error):
            return error.description
        }
    }
}

/// Throws ``BilevelError/dimensionMismatch(operation:expected:actual:)`` unless `v.count == n`.
@inlinable
public func requireCount(_ v: [Double], _ n: Int, _ operation: String, _ argument: String) throws {
    if v.count != n {
        throw BilevelError.dimensionMismatch(
            operation: operation, expected: "\(argument) of length \(n)", actual: "length \(v.count)")
    }
}

/// Throws ``BilevelError/nonFinite(operation:argument:)`` if `v` has NaN or ±∞.
@inlinable
public func requireAllFinite(_ v: [Double], _ operation: String, _ argument: String) throws {
    if v.firstNonFiniteIndex != nil { throw BilevelError.nonFinite(operation: operation, argument: argument) }
}
