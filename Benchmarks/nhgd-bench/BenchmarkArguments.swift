/// Command-line handling for `nhgd-bench` (local and minimal, to be swapped for NHGDReporting's
/// parser): `nhgd-bench [SUITE ...] [--quick] [--json FILE] [--threads N] [--help]`.
enum BenchmarkArguments {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses `arguments` (without the program name). Returns `nil` for `--help`.
    static func parse(_ arguments: [String], defaultThreads: Int) throws -> BenchmarkOptions? {
        var options = BenchmarkOptions(threads: defaultThreads)
        var i = 0
        func value(for flag: String) throws -> String {
            i += 1
            guard i < arguments.count, !arguments[i].hasPrefix("--") else {
                throw Failure(description: "\(flag) needs a value")
            }
            return arguments[i]
        }
        while i < arguments.count {
            let argument = arguments[i]
            switch argument {
            case "--help", "-h": return nil
            case "--quick": options.quick = true
            case "--json": options.jsonPath = try value(for: "--json")
            case "--plots": options.plotsDirectory = try value(for: "--plots")
            case "--smoke": options.smoke = true
            case "--cell": options.scalingCell = try value(for: "--cell")
            case "--threads":
                let text = try value(for: "--threads")
                guard let n = Int(text), n >= 1 else { throw Failure(description: "--threads needs a positive integer, got \(text)") }
                options.threads = n
            default:
                if argument.hasPrefix("-") { throw Failure(description: "unknown option \(argument)") }
                guard BenchmarkRegistry.suite(named: argument) != nil else {
                    let known = BenchmarkRegistry.suites.map(\.name).joined(separator: ", ")
                    throw Failure(description: "unknown suite \(argument) (known: \(known))")
                }
                options.suites.append(argument)
            }
            i += 1
        }
        return options
    }

    static var usage: String {
        var lines = [
            "usage: nhgd-bench [SUITE ...] [--quick] [--json FILE] [--threads N] [--help]",
            "",
            "Runs the named benchmark suites (all by default) and prints a table.",
            "  --quick        smaller problems, fewer repetitions",
            "  --json FILE    also write the records as one JSON array",
            "  --threads N    OpenBLAS threads (default: all cores)",
            "  --plots DIR    where suites with plots write SVGs (default: next to --json)",
            "  --smoke        smallest cells only (scaling; for the debug smoke test)",
            "  --cell SPEC    scaling child mode: measure one cell, write its records to --json",
            "",
            "suites:",
        ]
        for suite in BenchmarkRegistry.suites { lines.append("  \(suite.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(suite.summary)") }
        return lines.joined(separator: "\n")
    }
}
