/// A command line that does not match its ``CommandDeclaration``.
///
/// Every case renders as one line that says what was wrong (``description``); the command
/// that was being parsed is kept in ``commandPath`` so a tool can print that command's usage
/// line after the message.
public struct ArgumentError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Equatable, Sendable {
        /// `--name` is not declared for the command; `suggestion` is the closest declared
        /// option (by edit distance), if one is close enough.
        case unknownOption(String, suggestion: String?)
        /// An option that takes a value was the last argument, or was followed by another option.
        case missingValue(option: String, expected: String)
        /// The value does not parse, is out of range, or is not one of the choices.
        case invalidValue(option: String, value: String, expected: String)
        /// The first word after the tool is not a subcommand.
        case unknownSubcommand(String, suggestion: String?)
        /// The same option was given twice.
        case duplicateOption(String)
        /// `--flag=value` for an option that takes no value.
        case flagWithValue(option: String)
        /// A positional argument the command does not take.
        case unexpectedArgument(String)
        /// A required positional argument is missing.
        case missingArgument(String)
        /// Two options (or an option and a value of another, `--task clean`) that each parse
        /// but cannot be used together; `reason` says why, in a few words.
        case conflictingOptions(String, String, reason: String)
    }

    public var kind: Kind
    /// The words naming the command being parsed, starting with the tool, e.g. `["nhgd", "clean"]`.
    public var commandPath: [String]

    public init(_ kind: Kind, commandPath: [String]) {
        self.kind = kind
        self.commandPath = commandPath
    }

    /// One line: what the user typed is quoted with its control characters escaped
    /// (``Swift/String/escapingControlCharacters``), so an argument holding a newline cannot
    /// break the message in two.
    public var description: String { rawDescription.escapingControlCharacters }

    private var rawDescription: String {
        switch kind {
        case let .unknownOption(name, suggestion):
            let base = "unknown option '\(name)' for '\(commandPath.joined(separator: " "))'"
            return suggestion.map { base + "; did you mean '\($0)'?" } ?? base
        case let .missingValue(option, expected):
            return "missing value for '\(option)': expected \(expected)"
        case let .invalidValue(option, value, expected):
            return "invalid value '\(value)' for '\(option)': expected \(expected)"
        case let .unknownSubcommand(name, suggestion):
            let base = "unknown subcommand '\(name)' for '\(commandPath.joined(separator: " "))'"
            return suggestion.map { base + "; did you mean '\($0)'?" } ?? base
        case let .duplicateOption(name):
            return "option '\(name)' given more than once"
        case let .flagWithValue(option):
            return "option '\(option)' is a flag and takes no value"
        case let .unexpectedArgument(word):
            return "unexpected argument '\(word)'"
        case let .missingArgument(name):
            return "missing argument <\(name)>"
        case let .conflictingOptions(first, second, reason):
            return "option '\(first)' cannot be used with '\(second)': \(reason)"
        }
    }
}
