/// Errors of the data and experiments layer: data sets, files, splits and recipes. Errors of
/// the problems built from the data are the bilevel layer's ``BilevelError``.
public enum DataError: Error, Equatable, CustomStringConvertible {
    /// A data file is missing, unreadable, truncated, corrupt or malformed.
    case file(path: String, reason: String)
    /// A setting or value is out of its domain (a split larger than the data, a label outside
    /// its classes).
    case invalidValue(name: String, value: String, requirement: String)
    /// Two parts whose sizes must agree do not.
    case dimensionMismatch(operation: String, expected: String, actual: String)
    /// Features contain NaN or ±∞.
    case nonFinite(operation: String, argument: String)
    /// A sample index is outside 0..<n.
    case sampleOutOfRange(index: Int, count: Int)

    public var description: String {
        switch self {
        case let .file(path, reason):
            return "\(path): \(reason)"
        case let .invalidValue(name, value, requirement):
            return "invalid \(name) = \(value): \(requirement)"
        case let .dimensionMismatch(operation, expected, actual):
            return "\(operation): dimension mismatch, expected \(expected), got \(actual)"
        case let .nonFinite(operation, argument):
            return "\(operation): \(argument) contains NaN or infinity"
        case let .sampleOutOfRange(index, count):
            return "sample index \(index) is out of range 0..<\(count)"
        }
    }
}
