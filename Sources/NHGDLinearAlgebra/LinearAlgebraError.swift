import Foundation

/// Errors raised by the dense kernels and the operators built on them.
///
/// A value of this type always says *what* was wrong and *where*, so that a user who sees it
/// in a log can act on it without a debugger. Inputs are validated before anything is
/// mutated: an operation that throws leaves every object it was called on unchanged.
public enum LinearAlgebraError: Error, Equatable, CustomStringConvertible {
    /// Two operands whose sizes must agree do not.
    case dimensionMismatch(operation: String, expected: String, actual: String)
    /// An input contains NaN or ±∞.
    case nonFinite(operation: String, argument: String, index: Int)
    /// An argument is outside its valid domain (for example a negative damping).
    case invalidArgument(operation: String, message: String)
    /// A size does not fit LAPACK's 32-bit integer (`lapack_int`).
    case sizeOverflow(operation: String, value: Int)
    /// Cholesky found the leading minor of this order not positive definite.
    case notPositiveDefinite(routine: String, minor: Int)
    /// An iterative LAPACK routine (eigenvalues, SVD) did not converge.
    case noConvergence(routine: String, info: Int)
    /// LAPACK reported an illegal argument: a bug in this library, reported rather than trapped.
    case illegalArgument(routine: String, position: Int)
    /// A dense materialisation would need more memory than the caller allowed.
    case tooLargeToMaterialize(dimension: Int, bytesNeeded: Int, bytesAllowed: Int)
    /// A collective operation of a ``Communicator`` failed, or ranks disagree (sizes,
    /// configuration), or rank 0 failed a computation it does for all.
    case communication(operation: String, message: String)

    public var description: String {
        switch self {
        case let .dimensionMismatch(operation, expected, actual):
            return "\(operation): dimension mismatch, expected \(expected), got \(actual)"
        case let .nonFinite(operation, argument, index):
            return "\(operation): \(argument) has a non-finite value (NaN or infinity) at index \(index)"
        case let .invalidArgument(operation, message):
            return "\(operation): \(message)"
        case let .sizeOverflow(operation, value):
            return "\(operation): size \(value) exceeds LAPACK's 32-bit integer range"
        case let .notPositiveDefinite(routine, minor):
            return "\(routine): the leading minor of order \(minor) is not positive definite"
        case let .noConvergence(routine, info):
            return "\(routine): failed to converge (info = \(info))"
        case let .illegalArgument(routine, position):
            return "\(routine): argument \(position) had an illegal value (library bug, please report)"
        case let .tooLargeToMaterialize(dimension, needed, allowed):
            return "cannot materialise a \(dimension)×\(dimension) matrix: it needs \(formatBytes(needed)), "
                + "the limit is \(formatBytes(allowed))"
        case let .communication(operation, message):
            return "\(operation): communication: \(message)"
        }
    }
}

/// Human-readable byte count (binary units), used in error messages and reports.
public func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
