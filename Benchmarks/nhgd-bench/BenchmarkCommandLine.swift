import Foundation
import NHGDReporting

/// Command-line handling for `nhgd-bench`, declared with NHGDReporting's parser (the one `nhgd`
/// uses): `nhgd-bench [SUITE ...] [--quick] [--json FILE] [--threads N] [--plots DIR] [--smoke]
/// [--cell SPEC] [--help]`.
enum BenchmarkCommandLine {
    /// A command line the parser accepts but the benchmark cannot (an unknown suite, a bad `--cell`).
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let declaration = CommandDeclaration(
        "nhgd-bench",
        abstract: "Runs the named benchmark suites (all by default) and prints a table. Suites: "
            + BenchmarkRegistry.suites.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ") + ".",
        options: [
            .flag("quick", help: "Smaller problems, fewer repetitions."),
            .string("json", valueName: "FILE", help: "Also write the records as one JSON array."),
            .integer("threads", .atLeast(1), help: "OpenBLAS threads (default: all cores)."),
            .string("plots", valueName: "DIR", help: "Where suites with plots write SVGs (default: next to --json)."),
            .flag("smoke", help: "Smallest cells only (scaling; for the debug smoke test)."),
            .string("cell", valueName: "SPEC", help: "Scaling child mode: measure one cell, write its records to --json."),
        ],
        positionals: [PositionalDeclaration("suite", isOptional: true, isRepeated: true,
                                            help: "Suites to run: " + BenchmarkRegistry.suites.map(\.name).joined(separator: ", ") + ".")])

    static let parser = ArgumentParser(declaration)

    /// The one-line usage shown after an error.
    static var usage: String { parser.usage(for: [declaration.name]) }

    /// The full `--help` text.
    static var help: String { parser.helpText(for: [declaration.name]) }

    /// Parses `arguments` (without the program name). Returns `nil` for `--help`.
    /// - Throws: ``ArgumentError`` for a malformed command line, ``Failure`` for an unknown suite.
    static func parse(_ arguments: [String], defaultThreads: Int) throws -> BenchmarkOptions? {
        let parsed = try parser.parse(arguments)
        if parsed.helpRequested { return nil }
        var options = BenchmarkOptions(threads: parsed.integer("threads") ?? defaultThreads)
        options.quick = parsed.flag("quick")
        options.jsonPath = parsed.string("json")
        options.plotsDirectory = parsed.string("plots")
        options.smoke = parsed.flag("smoke")
        options.scalingCell = parsed.string("cell")
        for suite in parsed.positionalList("suite") {
            guard BenchmarkRegistry.suite(named: suite) != nil else {
                let known = BenchmarkRegistry.suites.map(\.name).joined(separator: ", ")
                throw Failure(description: "unknown suite \(suite) (known: \(known))")
            }
            options.suites.append(suite)
        }
        return options
    }
}
