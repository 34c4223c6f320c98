extension ArgumentParser {
    /// The one-line usage of the command at `path`, e.g.
    /// `usage: nhgd clean [--rank <n>] [--quiet] …` shortened to `[options]` when long.
    public func usage(for path: [String]) -> String {
        guard let command = command(at: path) else { return "usage: " + path.joined(separator: " ") }
        var words = ["usage:"] + path
        if !command.subcommands.isEmpty { words.append(command.defaultSubcommand == nil ? "<subcommand>" : "[<subcommand>]") }
        if !command.options.isEmpty { words.append("[options]") }
        for positional in command.positionals {
            let word = "<\(positional.name)>" + (positional.isRepeated ? " ..." : "")
            words.append(positional.isOptional ? "[\(word)]" : word)
        }
        return words.joined(separator: " ")
    }

    /// The full help of the command at `path`: abstract, usage, every option with its value
    /// placeholder, help, accepted values and default, the positionals and the subcommands,
    /// wrapped to `width` columns.
    public func helpText(for path: [String], width: Int = 80) -> String {
        guard let command = command(at: path) else { return usage(for: path) + "\n" }
        var lines: [String] = []
        lines.append(contentsOf: wrap(command.abstract, width: width, indent: ""))
        lines.append("")
        lines.append(usage(for: path))

        func table(_ title: String, _ rows: [(String, String)]) {
            guard !rows.isEmpty else { return }
            lines.append("")
            lines.append(title)
            let column = min(max(rows.map(\.0.count).max()! + 4, 12), 30)
            for (left, right) in rows {
                let lead = "  " + left
                let wrapped = wrap(right, width: width - column, indent: "")
                if lead.count + 2 > column {
                    lines.append(lead)
                    lines.append(contentsOf: wrapped.map { String(repeating: " ", count: column) + $0 })
                } else {
                    let pad = String(repeating: " ", count: column - lead.count)
                    lines.append(lead + pad + (wrapped.first ?? ""))
                    lines.append(contentsOf: wrapped.dropFirst().map { String(repeating: " ", count: column) + $0 })
                }
            }
        }

        table("ARGUMENTS:", command.positionals.map { ("<\($0.name)>", $0.help) })
        var optionRows: [(String, String)] = command.options.map { option in
            let left = option.kind == .flag ? option.spelling : "\(option.spelling) <\(option.valueName)>"
            var right = option.help
            switch option.kind {
            case .flag: break
            case .string(nil): break
            default: right += " Accepts \(option.kind.expectation)."
            }
            if let d = option.defaultValue { right += " (default: \(d))" }
            return (left, right)
        }
        optionRows.append(("-h, --help", "Show this help and exit."))
        table("OPTIONS:", optionRows)
        table("SUBCOMMANDS:", command.subcommands.map {
            ($0.name + ($0.name == command.defaultSubcommand ? " (default)" : ""), $0.abstract)
        })
        if !command.subcommands.isEmpty {
            lines.append("")
            lines.append("See '\(path.joined(separator: " ")) <subcommand> --help' for the options of each subcommand.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func wrap(_ text: String, width: Int, indent: String) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if !current.isEmpty, current.count + 1 + word.count > max(width, 20) {
                lines.append(current)
                current = indent + word
            } else {
                current += (current.isEmpty ? "" : " ") + word
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
