import Foundation
import Testing

/// Runs the built `nhgd` executable, which sits beside the test bundle in the build directory.
@Suite("nhgd executable")
struct ExecutableTests {
    static func executableURL() -> URL? {
        var candidates: [URL] = []
        if let path = CommandLine.arguments.first { candidates.append(URL(fileURLWithPath: path).deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        for directory in candidates {
            let url = directory.appendingPathComponent("nhgd")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    @Test func badFlagExitsWithStatus2AndOneLineMessage() throws {
        let url = try #require(Self.executableURL(), "nhgd not found beside \(CommandLine.arguments.first ?? "?")")
        let process = Process()
        process.executableURL = url
        process.arguments = ["clean", "--rnak", "3"]
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let errorText = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let outputText = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        #expect(outputText.isEmpty)
        let lines = errorText.split(separator: "\n")
        #expect(lines.first == "nhgd: error: unknown option '--rnak' for 'nhgd clean'; did you mean '--rank'?")
        #expect(lines.dropFirst().first == "usage: nhgd clean [options]")
    }
}
