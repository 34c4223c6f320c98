extension String {
    /// The text with every control character written as an escape (`\n`, `\r`, `\t`, or
    /// `\u{1b}`), so that a message quoting what a user typed or named stays one line and prints
    /// no terminal controls: `nhgd $'c\n'` reports `unknown subcommand 'c\n'`, not a line break.
    /// Other characters, backslashes included, are kept as they are.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return self }
        var escaped = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": escaped.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": escaped.append(contentsOf: #"\r"#.unicodeScalars)
            case "\t": escaped.append(contentsOf: #"\t"#.unicodeScalars)
            case _ where scalar.properties.generalCategory == .control:
                escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
