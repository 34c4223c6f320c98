import NHGDReporting
import Testing

/// A tool shaped like `nhgd-bench`: options with values interleaved with any number of names.
private let repeatedTool = ArgumentParser(CommandDeclaration(
    "bench", abstract: "Runs named suites.",
    options: [.flag("quick", help: "Smaller."), .string("json", valueName: "FILE", help: "Output.")],
    positionals: [PositionalDeclaration("suite", isOptional: true, isRepeated: true, help: "Suites.")]))

private let requiredTool = ArgumentParser(CommandDeclaration(
    "cat", abstract: "Concatenates.",
    positionals: [PositionalDeclaration("first", help: "A name."),
                  PositionalDeclaration("file", isRepeated: true, help: "Files.")]))

@Suite struct RepeatedPositionalTests {
    @Test func takesEveryRemainingWordInOrderAroundOptions() throws {
        let parsed = try repeatedTool.parse(["a", "--json", "out.json", "b", "--quick", "c", "--", "--d"])
        #expect(parsed.positionalList("suite") == ["a", "b", "c", "--d"])
        #expect(parsed.positionals["suite"] == "a")
        #expect(parsed.string("json") == "out.json")
        #expect(parsed.flag("quick"))
    }

    @Test func optionalRepeatedMayBeEmpty() throws {
        let parsed = try repeatedTool.parse(["--quick"])
        #expect(parsed.positionalList("suite").isEmpty)
        #expect(parsed.positionals["suite"] == nil)
    }

    @Test func requiredRepeatedNeedsOneWord() throws {
        #expect(throws: ArgumentError(.missingArgument("file"), commandPath: ["cat"])) { try requiredTool.parse(["x"]) }
        let parsed = try requiredTool.parse(["x", "y", "z"])
        #expect(parsed.positionals["first"] == "x")
        #expect(parsed.positionalList("file") == ["y", "z"])
    }

    @Test func usageMarksTheRepetition() {
        #expect(repeatedTool.usage(for: ["bench"]) == "usage: bench [options] [<suite> ...]")
        #expect(requiredTool.usage(for: ["cat"]) == "usage: cat <first> <file> ...")
    }
}
