/// A typed option value after parsing and validation.
public enum ArgumentValue: Equatable, Sendable {
    case flag(Bool)
    case integer(Int)
    case real(Double)
    case string(String)
    case integers([Int])
    case reals([Double])
    case strings([String])
}

/// The result of ``ArgumentParser/parse(_:)``: the command that was chosen, every declared
/// option's value (given or default), and the positional arguments.
///
/// The typed accessors take the option name without dashes and trap if the name is not
/// declared for the command or is read as the wrong type: those are programming errors.
public struct ParsedArguments: Equatable, Sendable {
    /// The words naming the chosen command, starting with the tool: `["nhgd", "clean"]`.
    public var commandPath: [String]
    /// `--help` or `-h` was given: show the help of ``commandPath`` and do nothing else.
    public var helpRequested: Bool
    /// Values of options that were given or have a default, by name.
    public var values: [String: ArgumentValue]
    /// Names of options given explicitly on the command line.
    public var explicitlyGiven: Set<String>
    /// Positional arguments by declared name (the first word of a repeated one).
    public var positionals: [String: String]
    /// Every word of each repeated positional (see ``PositionalDeclaration/isRepeated``).
    public var positionalLists: [String: [String]]

    public init(commandPath: [String], helpRequested: Bool = false, values: [String: ArgumentValue] = [:],
                explicitlyGiven: Set<String> = [], positionals: [String: String] = [:],
                positionalLists: [String: [String]] = [:]) {
        self.commandPath = commandPath
        self.helpRequested = helpRequested
        self.values = values
        self.explicitlyGiven = explicitlyGiven
        self.positionals = positionals
        self.positionalLists = positionalLists
    }

    /// The words of the repeated positional `name`, in order (empty when none were given).
    public func positionalList(_ name: String) -> [String] { positionalLists[name] ?? [] }

    /// The chosen subcommand's name (the last word of ``commandPath``).
    public var command: String { commandPath.last ?? "" }

    public func isGiven(_ name: String) -> Bool { explicitlyGiven.contains(name) }

    public func flag(_ name: String) -> Bool {
        switch values[name] {
        case let .flag(b)?: return b
        case nil: return false
        case let other?: preconditionFailure("--\(name) is \(other), not a flag")
        }
    }
    public func integer(_ name: String) -> Int? {
        guard let value = values[name] else { return nil }
        guard case let .integer(v) = value else { preconditionFailure("--\(name) is \(value), not an integer") }
        return v
    }
    public func real(_ name: String) -> Double? {
        guard let value = values[name] else { return nil }
        guard case let .real(v) = value else { preconditionFailure("--\(name) is \(value), not a number") }
        return v
    }
    public func string(_ name: String) -> String? {
        guard let value = values[name] else { return nil }
        guard case let .string(v) = value else { preconditionFailure("--\(name) is \(value), not a string") }
        return v
    }
    public func integers(_ name: String) -> [Int]? {
        guard let value = values[name] else { return nil }
        guard case let .integers(v) = value else { preconditionFailure("--\(name) is \(value), not an integer list") }
        return v
    }
    public func reals(_ name: String) -> [Double]? {
        guard let value = values[name] else { return nil }
        guard case let .reals(v) = value else { preconditionFailure("--\(name) is \(value), not a number list") }
        return v
    }
    public func strings(_ name: String) -> [String]? {
        guard let value = values[name] else { return nil }
        guard case let .strings(v) = value else { preconditionFailure("--\(name) is \(value), not a string list") }
        return v
    }
}
