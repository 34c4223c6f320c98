import NHGDReporting
import Testing

/// A tool shaped like `nhgd`: a default subcommand, typed options of every kind, a positional.
let sampleTool = ArgumentParser(CommandDeclaration(
    "tool", abstract: "A sample tool for parser tests.",
    subcommands: [
        CommandDeclaration("run", abstract: "Run the thing.", options: [
            .string("method", default: "fast", choices: ["fast", "slow", "exact"], help: "Which method."),
            .integer("rank", default: 8, .within(1...64), help: "Sketch rank."),
            .integer("seed", default: 0, help: "Random seed."),
            .integer("steps", default: 10, .atLeast(1), help: "Number of steps."),
            .real("damping", default: 1e-3, .positive, help: "Damping added to the diagonal."),
            .real("forgetting", default: 0.1, .within(0...1), help: "Forgetting factor."),
            .integerList("pair", .within(0...9), count: 2...2, help: "Two digit classes."),
            .realList("rates", default: [0.1, 1], .positive, help: "Learning rates."),
            .stringList("methods", default: ["fast"], choices: ["fast", "slow", "exact"], count: 1...3, help: "Methods to compare."),
            .string("output", valueName: "DIR", help: "Where to write reports."),
            .flag("quiet", help: "Print only the result."),
        ]),
        CommandDeclaration("copy", abstract: "Copy a file.", options: [.flag("force", help: "Overwrite.")],
                           positionals: [PositionalDeclaration("source", help: "From."),
                                         PositionalDeclaration("destination", isOptional: true, help: "To.")]),
    ],
    defaultSubcommand: "run"))

private func parseError(_ arguments: [String]) -> ArgumentError? {
    do {
        _ = try sampleTool.parse(arguments)
        return nil
    } catch {
        return error
    }
}

@Suite("ArgumentParser")
struct ArgumentParserTests {
    @Test func defaultsApplyWhenNothingIsGiven() throws {
        let parsed = try sampleTool.parse([])
        #expect(parsed.commandPath == ["tool", "run"])
        #expect(parsed.string("method") == "fast")
        #expect(parsed.integer("rank") == 8)
        #expect(parsed.real("damping") == 1e-3)
        #expect(parsed.reals("rates") == [0.1, 1])
        #expect(parsed.strings("methods") == ["fast"])
        #expect(parsed.integers("pair") == nil)
        #expect(parsed.string("output") == nil)
        #expect(parsed.flag("quiet") == false)
        #expect(parsed.explicitlyGiven.isEmpty)
        #expect(!parsed.helpRequested)
    }

    @Test func bothSpellingsOfValuesAreAccepted() throws {
        let parsed = try sampleTool.parse([
            "run", "--rank", "16", "--damping=0.5", "--method", "exact", "--pair=3,8", "--rates", "0.01, 2e-1",
            "--methods=slow,exact", "--output", "out dir", "--quiet", "--seed", "-7", "--forgetting", "1",
        ])
        #expect(parsed.integer("rank") == 16)
        #expect(parsed.real("damping") == 0.5)
        #expect(parsed.string("method") == "exact")
        #expect(parsed.integers("pair") == [3, 8])
        #expect(parsed.reals("rates") == [0.01, 0.2])
        #expect(parsed.strings("methods") == ["slow", "exact"])
        #expect(parsed.string("output") == "out dir")
        #expect(parsed.flag("quiet"))
        #expect(parsed.integer("seed") == -7)
        #expect(parsed.real("forgetting") == 1)
        #expect(parsed.isGiven("rank") && !parsed.isGiven("steps"))
    }

    @Test func defaultSubcommandTakesLeadingOptions() throws {
        let parsed = try sampleTool.parse(["--rank", "4"])
        #expect(parsed.commandPath == ["tool", "run"])
        #expect(parsed.integer("rank") == 4)
    }

    @Test func positionalsAndDoubleDash() throws {
        let parsed = try sampleTool.parse(["copy", "a.txt", "--force"])
        #expect(parsed.commandPath == ["tool", "copy"])
        #expect(parsed.positionals == ["source": "a.txt"])
        #expect(parsed.flag("force"))
        let dashed = try sampleTool.parse(["copy", "--", "--odd-name", "-x"])
        #expect(dashed.positionals == ["source": "--odd-name", "destination": "-x"])
        #expect(!dashed.flag("force"))
    }

    @Test func helpIsRecognisedAnywhereBeforeDoubleDash() throws {
        #expect(try sampleTool.parse(["--help"]).commandPath == ["tool"])
        #expect(try sampleTool.parse(["--help"]).helpRequested)
        #expect(try sampleTool.parse(["-h"]).helpRequested)
        let sub = try sampleTool.parse(["run", "--bogus", "--help"])
        #expect(sub.helpRequested && sub.commandPath == ["tool", "run"])
        let copy = try sampleTool.parse(["copy", "--help"])
        #expect(copy.helpRequested && copy.commandPath == ["tool", "copy"])
        #expect(!(try sampleTool.parse(["copy", "--", "--help"]).helpRequested))
    }

    @Test func unknownOptionSuggestsTheClosestName() {
        let e = parseError(["run", "--rnak", "3"])
        #expect(e?.kind == .unknownOption("--rnak", suggestion: "--rank"))
        #expect(e?.description == "unknown option '--rnak' for 'tool run'; did you mean '--rank'?")
        #expect(e?.commandPath == ["tool", "run"])
        #expect(parseError(["--dampin=3"])?.kind == .unknownOption("--dampin", suggestion: "--damping"))
        #expect(parseError(["--zzzzzzzz"])?.description == "unknown option '--zzzzzzzz' for 'tool run'")
        #expect(parseError(["-x"])?.kind == .unknownOption("-x", suggestion: nil))
        // An option of another subcommand is unknown here.
        #expect(parseError(["copy", "a", "--rank", "3"])?.kind == .unknownOption("--rank", suggestion: nil))
    }

    @Test func missingValue() {
        let e = parseError(["--rank"])
        #expect(e?.kind == .missingValue(option: "--rank", expected: "an integer between 1 and 64"))
        #expect(e?.description == "missing value for '--rank': expected an integer between 1 and 64")
        #expect(parseError(["--output", "--quiet"])?.kind == .missingValue(option: "--output", expected: "a string"))
    }

    @Test func badValuesSayWhatWasExpected() {
        let cases: [([String], String)] = [
            (["--rank", "abc"], "invalid value 'abc' for '--rank': expected an integer between 1 and 64"),
            (["--rank", "0"], "invalid value '0' for '--rank': expected an integer between 1 and 64"),
            (["--rank", "65"], "invalid value '65' for '--rank': expected an integer between 1 and 64"),
            (["--rank", "2.5"], "invalid value '2.5' for '--rank': expected an integer between 1 and 64"),
            (["--steps", "0"], "invalid value '0' for '--steps': expected an integer of at least 1"),
            (["--seed", "x"], "invalid value 'x' for '--seed': expected an integer"),
            (["--damping", "0"], "invalid value '0' for '--damping': expected a number greater than 0"),
            (["--damping", "-1"], "invalid value '-1' for '--damping': expected a number greater than 0"),
            (["--damping", "nan"], "invalid value 'nan' for '--damping': expected a number greater than 0"),
            (["--damping", "inf"], "invalid value 'inf' for '--damping': expected a number greater than 0"),
            (["--damping", "0x10"], "invalid value '0x10' for '--damping': expected a number greater than 0"),
            (["--forgetting", "1.5"], "invalid value '1.5' for '--forgetting': expected a number between 0 and 1"),
            (["--method", "quick"], "invalid value 'quick' for '--method': expected one of fast, slow, exact"),
            (["--pair", "3"], "invalid value '3' for '--pair': expected a comma-separated list of 2 integers between 0 and 9"),
            (["--pair", "3,10"], "invalid value '3,10' for '--pair': expected a comma-separated list of 2 integers between 0 and 9"),
            (["--pair", "3,,8"], "invalid value '3,,8' for '--pair': expected a comma-separated list of 2 integers between 0 and 9"),
            (["--rates", "1,-1"], "invalid value '1,-1' for '--rates': expected a comma-separated list of numbers greater than 0"),
            (["--methods", "fast,bad"], "invalid value 'fast,bad' for '--methods': expected a comma-separated list of 1 to 3 values from fast, slow, exact"),
            (["--methods", "fast,slow,exact,fast"], "invalid value 'fast,slow,exact,fast' for '--methods': expected a comma-separated list of 1 to 3 values from fast, slow, exact"),
            (["--output="], "invalid value '' for '--output': expected a string"),
        ]
        for (arguments, message) in cases {
            let e = parseError(arguments)
            #expect(e?.description == message, "\(arguments)")
            if case .invalidValue? = e?.kind {} else { Issue.record("\(arguments) gave \(String(describing: e))") }
        }
    }

    @Test func unknownSubcommandSuggests() {
        let e = parseError(["rnu"])
        #expect(e?.kind == .unknownSubcommand("rnu", suggestion: "run"))
        #expect(e?.description == "unknown subcommand 'rnu' for 'tool'; did you mean 'run'?")
        #expect(e?.commandPath == ["tool"])
        #expect(parseError(["elephant"])?.kind == .unknownSubcommand("elephant", suggestion: nil))
    }

    @Test func duplicateOptionIsRejectedInEitherSpelling() {
        #expect(parseError(["--rank", "2", "--rank=3"])?.kind == .duplicateOption("--rank"))
        #expect(parseError(["--quiet", "--quiet"])?.description == "option '--quiet' given more than once")
    }

    @Test func flagsTakeNoValue() {
        #expect(parseError(["--quiet=yes"])?.description == "option '--quiet' is a flag and takes no value")
    }

    /// Found by the argument-parser fuzz target (Fuzz/Targets/argument-parser.swift): an
    /// argument holding a newline was quoted as is, and the "one line" message became two.
    @Test func quotedArgumentsCannotBreakTheMessage() {
        #expect(parseError(["r\nun"])?.description == #"unknown subcommand 'r\nun' for 'tool'; did you mean 'run'?"#)
        #expect(parseError(["--rank", "3\n4"])?.description == #"invalid value '3\n4' for '--rank': expected an integer between 1 and 64"#)
        #expect(parseError(["--ra\u{1b}[2Jnk"])?.description.contains(#"'--ra\u{1b}[2Jnk'"#) == true)
        #expect(parseError(["copy", "a", "b", "c\r\td"])?.description == #"unexpected argument 'c\r\td'"#)
        #expect("plain \\ text".escapingControlCharacters == "plain \\ text")
    }

    /// Raised by tools for combinations the parser cannot see; one line like the others.
    @Test func conflictingOptionsReadAsOneLine() {
        let e = ArgumentError(.conflictingOptions("--pair", "--data", reason: "the data set is the file"), commandPath: ["tool", "run"])
        #expect(e.description == "option '--pair' cannot be used with '--data': the data set is the file")
    }

    @Test func positionalErrors() {
        #expect(parseError(["copy"])?.description == "missing argument <source>")
        #expect(parseError(["copy", "a", "b", "c"])?.description == "unexpected argument 'c'")
        #expect(parseError(["run", "stray"])?.kind == .unexpectedArgument("stray"))
    }

    @Test func helpListsEveryOptionWithDefaultsAndSubcommands() throws {
        let help = sampleTool.helpText(for: ["tool", "run"])
        #expect(help.hasPrefix("Run the thing.\n\nusage: tool run [options]\n"))
        let run = try #require(sampleTool.command(at: ["tool", "run"]))
        for option in run.options {
            #expect(help.contains(option.spelling), "\(option.spelling) missing from help")
            #expect(help.contains(option.help.split(separator: " ").first!), "help text of \(option.spelling)")
            if let d = option.defaultValue { #expect(help.contains("(default: \(d))"), "default of \(option.spelling)") }
        }
        #expect(help.contains("--output <DIR>"))
        #expect(help.contains("--rank <n>"))
        #expect(help.contains("Accepts an integer between 1 and 64."))
        #expect(help.contains("-h, --help"))
        #expect(help.split(separator: "\n").allSatisfy { $0.count <= 80 })

        let top = sampleTool.helpText(for: ["tool"])
        #expect(top.contains("usage: tool [<subcommand>]"))
        #expect(top.contains("run (default)"))
        #expect(top.contains("copy") && top.contains("Copy a file."))
        #expect(sampleTool.usage(for: ["tool", "copy"]) == "usage: tool copy [options] <source> [<destination>]")
    }

    @Test func editDistanceAndClosestMatch() {
        #expect(editDistance("kitten", "sitting") == 3)
        #expect(editDistance("", "abc") == 3)
        #expect(editDistance("same", "same") == 0)
        #expect(closestMatch(to: "--outpt", among: ["--output", "--quiet"]) == "--output")
        #expect(closestMatch(to: "--xyzzy-plugh", among: ["--output", "--quiet"]) == nil)
        #expect(closestMatch(to: "--out", among: ["--seed", "--output"]) == "--output")
    }
}
