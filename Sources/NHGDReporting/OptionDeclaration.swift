/// The values an integer option accepts: an optional lower and upper bound, both inclusive.
public struct IntegerConstraint: Equatable, Sendable {
    public var lower: Int?
    public var upper: Int?

    public init(lower: Int? = nil, upper: Int? = nil) {
        precondition(lower == nil || upper == nil || lower! <= upper!, "empty integer range")
        self.lower = lower
        self.upper = upper
    }

    /// Integers in `range`.
    public static func within(_ range: ClosedRange<Int>) -> IntegerConstraint {
        IntegerConstraint(lower: range.lowerBound, upper: range.upperBound)
    }
    /// Integers `≥ lower`.
    public static func atLeast(_ lower: Int) -> IntegerConstraint { IntegerConstraint(lower: lower) }
    /// Any integer.
    public static let any = IntegerConstraint()

    public func accepts(_ value: Int) -> Bool {
        (lower.map { value >= $0 } ?? true) && (upper.map { value <= $0 } ?? true)
    }

    /// "an integer between 1 and 10", or the plural "integers between 1 and 10".
    public func phrase(plural: Bool = false) -> String {
        let noun = plural ? "integers" : "an integer"
        switch (lower, upper) {
        case let (l?, u?): return "\(noun) between \(l) and \(u)"
        case let (l?, nil): return "\(noun) of at least \(l)"
        case let (nil, u?): return "\(noun) of at most \(u)"
        case (nil, nil): return noun
        }
    }
}

/// The values a real option accepts: finite numbers with optional bounds, each inclusive or
/// exclusive (a damping must be `> 0`, a forgetting factor lies in `[0, 1]`).
public struct RealConstraint: Equatable, Sendable {
    public var lower: Double?
    public var lowerInclusive: Bool
    public var upper: Double?
    public var upperInclusive: Bool

    public init(lower: Double? = nil, lowerInclusive: Bool = true, upper: Double? = nil, upperInclusive: Bool = true) {
        self.lower = lower
        self.lowerInclusive = lowerInclusive
        self.upper = upper
        self.upperInclusive = upperInclusive
    }

    /// Numbers in the closed interval `range`.
    public static func within(_ range: ClosedRange<Double>) -> RealConstraint {
        RealConstraint(lower: range.lowerBound, upper: range.upperBound)
    }
    /// Numbers `> 0`.
    public static let positive = RealConstraint(lower: 0, lowerInclusive: false)
    /// Numbers `≥ 0`.
    public static let nonNegative = RealConstraint(lower: 0)
    /// Any finite number.
    public static let any = RealConstraint()

    public func accepts(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        if let lower, lowerInclusive ? value < lower : value <= lower { return false }
        if let upper, upperInclusive ? value > upper : value >= upper { return false }
        return true
    }

    /// "a number between 0 and 1", "a number greater than 0", or their plurals.
    public func phrase(plural: Bool = false) -> String {
        let noun = plural ? "numbers" : "a number"
        func lowerPhrase(_ l: Double) -> String {
            lowerInclusive ? "of at least \(formatBound(l))" : "greater than \(formatBound(l))"
        }
        func upperPhrase(_ u: Double) -> String {
            upperInclusive ? "at most \(formatBound(u))" : "less than \(formatBound(u))"
        }
        switch (lower, upper) {
        case let (l?, u?) where lowerInclusive && upperInclusive:
            return "\(noun) between \(formatBound(l)) and \(formatBound(u))"
        case let (l?, u?):
            let first = lowerInclusive ? "at least \(formatBound(l))" : "greater than \(formatBound(l))"
            return "\(noun) \(first) and \(upperPhrase(u))"
        case let (l?, nil): return "\(noun) \(lowerPhrase(l))"
        case let (nil, u?): return "\(noun) \(upperInclusive ? "of " : "")\(upperPhrase(u))"
        case (nil, nil): return noun
        }
    }

    private func formatBound(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}

/// What an option takes after its name.
public enum OptionKind: Equatable, Sendable {
    /// No value: present or absent.
    case flag
    /// One integer.
    case integer(IntegerConstraint)
    /// One finite number.
    case real(RealConstraint)
    /// One string, optionally restricted to `choices`.
    case string(choices: [String]?)
    /// Comma-separated integers; `count` bounds the number of items.
    case integerList(IntegerConstraint, count: ClosedRange<Int>?)
    /// Comma-separated finite numbers.
    case realList(RealConstraint, count: ClosedRange<Int>?)
    /// Comma-separated strings, optionally restricted to `choices`.
    case stringList(choices: [String]?, count: ClosedRange<Int>?)

    /// What a valid value looks like, for error messages: "an integer between 1 and 10".
    public var expectation: String {
        switch self {
        case .flag: return "no value"
        case let .integer(c): return c.phrase()
        case let .real(c): return c.phrase()
        case let .string(choices): return choices.map { "one of " + $0.joined(separator: ", ") } ?? "a string"
        case let .integerList(c, count): return Self.listPhrase(count, c.phrase(plural: true))
        case let .realList(c, count): return Self.listPhrase(count, c.phrase(plural: true))
        case let .stringList(choices, count):
            return Self.listPhrase(count, choices.map { "values from " + $0.joined(separator: ", ") } ?? "strings")
        }
    }

    private static func listPhrase(_ count: ClosedRange<Int>?, _ elements: String) -> String {
        guard let count else { return "a comma-separated list of \(elements)" }
        let size = count.lowerBound == count.upperBound
            ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound)"
        return "a comma-separated list of \(size) \(elements)"
    }

    /// The placeholder shown in help, e.g. `<n>`, `<x>`, `<name>`, `<n,...>`.
    var defaultValueName: String {
        switch self {
        case .flag: return ""
        case .integer: return "n"
        case .real: return "x"
        case .string: return "value"
        case .integerList: return "n,..."
        case .realList: return "x,..."
        case .stringList: return "value,..."
        }
    }
}

/// One `--name` option of a command: its kind, default and help.
public struct OptionDeclaration: Equatable, Sendable {
    /// The name without dashes: `rank` for `--rank`.
    public var name: String
    public var kind: OptionKind
    /// The default, written as it would be on the command line (validated at parse time
    /// like a user's value); `nil` means the option is absent unless given.
    public var defaultValue: String?
    public var help: String
    /// The placeholder in help and usage text, e.g. `DIR` in `--output <DIR>`.
    public var valueName: String

    public init(_ name: String, kind: OptionKind, default defaultValue: String? = nil, valueName: String? = nil, help: String) {
        precondition(!name.isEmpty && !name.hasPrefix("-"), "option names are given without dashes")
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
        self.valueName = valueName ?? kind.defaultValueName
    }

    public static func flag(_ name: String, help: String) -> OptionDeclaration {
        OptionDeclaration(name, kind: .flag, help: help)
    }
    public static func integer(_ name: String, default value: Int? = nil, _ constraint: IntegerConstraint = .any, help: String) -> OptionDeclaration {
        OptionDeclaration(name, kind: .integer(constraint), default: value.map(String.init), help: help)
    }
    public static func real(_ name: String, default value: Double? = nil, _ constraint: RealConstraint = .any, help: String) -> OptionDeclaration {
        OptionDeclaration(name, kind: .real(constraint), default: value.map { "\($0)" }, help: help)
    }
    public static func string(_ name: String, default value: String? = nil, choices: [String]? = nil, valueName: String? = nil, help: String) -> OptionDeclaration {
        OptionDeclaration(name, kind: .string(choices: choices), default: value, valueName: valueName, help: help)
    }
    public static func integerList(_ name: String, default value: [Int]? = nil, _ constraint: IntegerConstraint = .any, count: ClosedRange<Int>? = nil, help: String) -> OptionDeclaration {
        OptionDeclaration(name, kind: .integerList(constraint, count: count), default: value.map { $0.map(String.init).joined(separator: ",") }, help: help)
    }
    public static func realList(_ name: String, default value: [Double]? = nil, _ constraint: RealConstraint = .any, count: ClosedRange<Int>? = nil, help: String) -> OptionDeclaration {
        OptionDeclaration(name, kind: .realList(constraint, count: count), default: value.map { $0.map { "\($0)" }.joined(separator: ",") }, help: help)
    }
    public static func stringList(_ name: String, default value: [String]? = nil, choices: [String]? = nil, count: ClosedRange<Int>? = nil, help: String) -> OptionDeclaration {
        OptionDeclaration(name, kind: .stringList(choices: choices, count: count), default: value?.joined(separator: ","), help: help)
    }

    /// `--name`
    public var spelling: String { "--" + name }
}

/// A positional argument of a command.
public struct PositionalDeclaration: Equatable, Sendable {
    public var name: String
    public var help: String
    public var isOptional: Bool
    /// Takes every remaining positional word (one or more, or zero or more when optional);
    /// only the last positional may be repeated. Read with ``ParsedArguments/positionalList(_:)``.
    public var isRepeated: Bool

    public init(_ name: String, isOptional: Bool = false, isRepeated: Bool = false, help: String) {
        self.name = name
        self.help = help
        self.isOptional = isOptional
        self.isRepeated = isRepeated
    }
}

/// A command or subcommand: its options, positional arguments and subcommands.
///
/// A command with subcommands dispatches on its first word; if `defaultSubcommand` is set,
/// a command line that does not start with a subcommand name goes to that subcommand.
public struct CommandDeclaration: Equatable, Sendable {
    public var name: String
    /// One sentence shown at the top of the help.
    public var abstract: String
    public var options: [OptionDeclaration]
    public var positionals: [PositionalDeclaration]
    public var subcommands: [CommandDeclaration]
    public var defaultSubcommand: String?

    public init(
        _ name: String, abstract: String, options: [OptionDeclaration] = [], positionals: [PositionalDeclaration] = [],
        subcommands: [CommandDeclaration] = [], defaultSubcommand: String? = nil
    ) {
        var seen = Set<String>()
        for option in options {
            precondition(seen.insert(option.name).inserted, "option --\(option.name) declared twice in \(name)")
            precondition(option.name != "help", "--help is built in")
        }
        precondition(defaultSubcommand == nil || subcommands.contains { $0.name == defaultSubcommand },
                     "default subcommand \(defaultSubcommand ?? "") is not declared")
        precondition(positionals.drop { !$0.isOptional }.allSatisfy(\.isOptional),
                     "required positionals must come before optional ones")
        precondition(positionals.dropLast().allSatisfy { !$0.isRepeated }, "only the last positional may be repeated")
        self.name = name
        self.abstract = abstract
        self.options = options
        self.positionals = positionals
        self.subcommands = subcommands
        self.defaultSubcommand = defaultSubcommand
    }

    public func option(named name: String) -> OptionDeclaration? {
        options.first { $0.name == name }
    }

    public func subcommand(named name: String) -> CommandDeclaration? {
        subcommands.first { $0.name == name }
    }
}
