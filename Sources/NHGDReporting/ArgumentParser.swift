/// A small declarative command-line parser in the manner of swift-argument-parser.
///
/// Accepted syntax, for a command resolved from the leading subcommand words:
/// - `--name VALUE` and `--name=VALUE` for options with a value (a value may start with `-`
///   when it is a negative number: `--seed -1`);
/// - `--name` for flags (`--name=VALUE` on a flag is an error);
/// - `--help` or `-h` anywhere before `--`: help for the resolved command, nothing else checked;
/// - `--` ends the options; later words are positional.
///
/// Every declared option gets a value after parsing: the given one or its default, both
/// validated the same way, so a bad default is caught by the first test that parses.
///
/// ```swift
/// let parser = ArgumentParser(CommandDeclaration("tool", abstract: "…", options: [
///     .integer("rank", default: 8, .within(1...64), help: "Sketch rank."),
/// ]))
/// let parsed = try parser.parse(["--rank", "16"])   // parsed.integer("rank") == 16
/// ```
public struct ArgumentParser: Sendable {
    public let root: CommandDeclaration

    public init(_ root: CommandDeclaration) {
        self.root = root
    }

    /// Parses `arguments` (without the program name).
    /// - Throws: ``ArgumentError`` describing the first problem found, left to right.
    public func parse(_ arguments: [String]) throws(ArgumentError) -> ParsedArguments {
        var command = root
        var path = [root.name]
        var rest = arguments[...]

        // Resolve subcommands: a leading word names one; otherwise the default applies.
        while !command.subcommands.isEmpty {
            if let word = rest.first, !word.hasPrefix("-") {
                guard let sub = command.subcommand(named: word) else {
                    if command.positionals.isEmpty {
                        throw ArgumentError(
                            .unknownSubcommand(word, suggestion: closestMatch(to: word, among: command.subcommands.map(\.name))),
                            commandPath: path)
                    }
                    break
                }
                rest = rest.dropFirst()
                command = sub
                path.append(sub.name)
            } else if let name = command.defaultSubcommand, !(rest.first.map(Self.isHelp) ?? false) {
                command = command.subcommand(named: name)!
                path.append(name)
            } else {
                break
            }
        }

        let optionWords = rest.prefix { $0 != "--" }
        if optionWords.contains(where: Self.isHelp) {
            return ParsedArguments(commandPath: path, helpRequested: true)
        }

        var result = ParsedArguments(commandPath: path)
        var positionalWords: [String] = []
        var index = rest.startIndex
        while index < rest.endIndex {
            let word = rest[index]
            index += 1
            if word == "--" {
                positionalWords.append(contentsOf: rest[index...])
                break
            }
            guard word.hasPrefix("-"), word != "-", !Self.looksNumeric(word) else {
                positionalWords.append(word)
                continue
            }
            let body = word.drop { $0 == "-" }
            let (name, inlineValue): (String, String?) = {
                if let eq = body.firstIndex(of: "=") {
                    return (String(body[..<eq]), String(body[body.index(after: eq)...]))
                }
                return (String(body), nil)
            }()
            let spelling = "--" + name
            guard word.hasPrefix("--"), let option = command.option(named: name) else {
                let suggestion = closestMatch(to: spelling, among: command.options.map(\.spelling) + ["--help"])
                throw ArgumentError(.unknownOption(word.hasPrefix("--") ? spelling : String(word.prefix { $0 != "=" }), suggestion: suggestion),
                                    commandPath: path)
            }
            guard !result.explicitlyGiven.contains(name) else {
                throw ArgumentError(.duplicateOption(spelling), commandPath: path)
            }
            result.explicitlyGiven.insert(name)
            if option.kind == .flag {
                if inlineValue != nil { throw ArgumentError(.flagWithValue(option: spelling), commandPath: path) }
                result.values[name] = .flag(true)
                continue
            }
            let text: String
            if let inlineValue {
                text = inlineValue
            } else if index < rest.endIndex, !rest[index].hasPrefix("-") || Self.looksNumeric(rest[index]) {
                text = rest[index]
                index += 1
            } else {
                throw ArgumentError(.missingValue(option: spelling, expected: option.kind.expectation), commandPath: path)
            }
            result.values[name] = try Self.convert(text, for: option, commandPath: path)
        }

        for option in command.options where result.values[option.name] == nil {
            if option.kind == .flag {
                result.values[option.name] = .flag(false)
            } else if let text = option.defaultValue {
                result.values[option.name] = try Self.convert(text, for: option, commandPath: path)
            }
        }

        var words = positionalWords[...]
        for positional in command.positionals {
            if positional.isRepeated {
                if words.isEmpty, !positional.isOptional { throw ArgumentError(.missingArgument(positional.name), commandPath: path) }
                result.positionalLists[positional.name] = Array(words)
                result.positionals[positional.name] = words.first
                words = []
            } else if let word = words.popFirst() {
                result.positionals[positional.name] = word
            } else if !positional.isOptional {
                throw ArgumentError(.missingArgument(positional.name), commandPath: path)
            }
        }
        if let extra = words.first {
            if !command.subcommands.isEmpty, command.positionals.isEmpty {
                throw ArgumentError(
                    .unknownSubcommand(extra, suggestion: closestMatch(to: extra, among: command.subcommands.map(\.name))),
                    commandPath: path)
            }
            throw ArgumentError(.unexpectedArgument(extra), commandPath: path)
        }
        return result
    }

    /// The declaration of the command named by `path` (as in ``ParsedArguments/commandPath``).
    public func command(at path: [String]) -> CommandDeclaration? {
        guard path.first == root.name else { return nil }
        var command = root
        for word in path.dropFirst() {
            guard let sub = command.subcommand(named: word) else { return nil }
            command = sub
        }
        return command
    }

    static func isHelp(_ word: String) -> Bool { word == "--help" || word == "-h" }

    /// `-1`, `-0.5`, `-1e-3`: a negative number, not an option.
    static func looksNumeric(_ word: String) -> Bool {
        guard word.count > 1, word.hasPrefix("-") else { return false }
        let next = word[word.index(after: word.startIndex)]
        return next.isNumber || next == "."
    }

    static func convert(_ text: String, for option: OptionDeclaration, commandPath: [String]) throws(ArgumentError) -> ArgumentValue {
        func invalid() -> ArgumentError {
            ArgumentError(.invalidValue(option: option.spelling, value: text, expected: option.kind.expectation), commandPath: commandPath)
        }
        func items() throws(ArgumentError) -> [String] {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
                String($0).trimmingWhitespace()
            }
            if parts.contains(where: \.isEmpty) { throw invalid() }
            return parts
        }
        func checkCount(_ n: Int, _ count: ClosedRange<Int>?) throws(ArgumentError) {
            if let count, !count.contains(n) { throw invalid() }
        }
        switch option.kind {
        case .flag:
            throw ArgumentError(.flagWithValue(option: option.spelling), commandPath: commandPath)
        case let .integer(c):
            guard let v = Int(text.trimmingWhitespace()), c.accepts(v) else { throw invalid() }
            return .integer(v)
        case let .real(c):
            guard let v = parseReal(text), c.accepts(v) else { throw invalid() }
            return .real(v)
        case let .string(choices):
            if let choices, !choices.contains(text) { throw invalid() }
            if text.isEmpty { throw invalid() }
            return .string(text)
        case let .integerList(c, count):
            var values: [Int] = []
            for item in try items() {
                guard let v = Int(item), c.accepts(v) else { throw invalid() }
                values.append(v)
            }
            try checkCount(values.count, count)
            return .integers(values)
        case let .realList(c, count):
            var values: [Double] = []
            for item in try items() {
                guard let v = parseReal(item), c.accepts(v) else { throw invalid() }
                values.append(v)
            }
            try checkCount(values.count, count)
            return .reals(values)
        case let .stringList(choices, count):
            let values = try items()
            if let choices, !values.allSatisfy(choices.contains) { throw invalid() }
            try checkCount(values.count, count)
            return .strings(values)
        }
    }

    /// A finite decimal number; rejects `nan`, `inf` and hexadecimal forms.
    static func parseReal(_ text: String) -> Double? {
        let t = text.trimmingWhitespace()
        guard !t.isEmpty, t.allSatisfy({ "0123456789+-.eE".contains($0) }), let v = Double(t), v.isFinite else { return nil }
        return v
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = self[...]
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
