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

    /// Runs `script` with bash, `$0` being the nhgd executable; returns how it ended and what
    /// it wrote (the script's own streams).
    static func shell(_ script: String, standardOutput: Any? = nil) throws
        -> (reason: Process.TerminationReason, status: Int32, stdout: String, stderr: String) {
        let url = try #require(Self.executableURL(), "nhgd not found beside \(CommandLine.arguments.first ?? "?")")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script, url.path]
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = standardOutput ?? stdout
        process.standardError = stderr
        try process.run()
        let errorText = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let outputText = standardOutput == nil
            ? String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) : ""
        process.waitUntilExit()
        return (process.terminationReason, process.terminationStatus, outputText, errorText)
    }

    /// Full, closed and reader-less standard streams (the issue's cases, which ended in SIGILL
    /// from a `try!` in Foundation's FileHandle.write): the process exits, with status 1 and one
    /// line when the results could not be written, and keeps status 2 for a bad command line.
    @Test func unwritableStreamsEndWithAStatusNotASignal() throws {
        let run = "\"$0\" regularize --outer-steps 2 --inner-steps 5 --threads 1"
        let full = try Self.shell("exec \(run) > /dev/full")
        #expect(full.reason == .exit && full.status == 1)
        #expect(full.stderr == "nhgd: error: cannot write standard output: No space left on device\n")
        let closed = try Self.shell("exec \(run) >&-")
        #expect(closed.reason == .exit && closed.status == 1)
        #expect(closed.stderr == "nhgd: error: cannot write standard output: Bad file descriptor\n")
        let usage = try Self.shell("exec \"$0\" --rank 0 2> /dev/full")
        #expect(usage.reason == .exit && usage.status == 2)
        #expect(usage.stdout.isEmpty && usage.stderr.isEmpty)
        // A pipe whose reader has gone, with SIGPIPE ignored (inherited through exec): EPIPE.
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        let broken = try Self.shell("trap '' PIPE; exec \(run)", standardOutput: pipe)
        #expect(broken.reason == .exit && broken.status == 1)
        #expect(broken.stderr == "nhgd: error: cannot write standard output: Broken pipe\n")
    }

    /// `--train 9223372036854775807` overflowed a sum in Dataset.split (SIGILL).
    @Test func anOverflowingSplitIsAUsageError() throws {
        let result = try Self.shell("exec \"$0\" clean --train 9223372036854775807 --outer-steps 2 --inner-steps 5")
        #expect(result.reason == .exit && result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.first == "nhgd: error: split sizes 9223372036854775807 + 1000 + 2000 (--train, --validation, --test) add up to more than the 5000 samples of MNIST-5k")
        #expect(lines.dropFirst().first == "usage: nhgd clean [options]")
        #expect(result.stdout.isEmpty)
    }
}
