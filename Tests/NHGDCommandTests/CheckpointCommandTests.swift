import Foundation
import Synchronization
import Testing
import NHGDReporting
@testable import NHGDCommand

/// `--checkpoint` and `--resume` (Docs/reliability.md): a run stopped after any outer iteration
/// and resumed writes the uninterrupted run's trace and results; bad checkpoints are one line
/// and status 2.
@Suite("checkpoint and resume")
struct CheckpointCommandTests {
    /// Stops the run after its `k`-th outer iteration, as SIGINT arriving during it would.
    final class StopAfter: Sendable {
        let k: Int
        let seen = Mutex(0)
        init(_ k: Int) { self.k = k }
        func poll() -> Int32? { seen.withLock { $0 += 1; return $0 == k ? SIGINT : nil } }
    }

    static func run(_ arguments: [String], stopAfter k: Int? = nil) -> (ToolExitStatus, CapturedText, CapturedText) {
        let out = CapturedText(), err = CapturedText()
        let stop = k.map(StopAfter.init)
        let runner = NumericalExperimentRunner(stopRequest: { stop?.poll() })
        return (NHGDTool(runner: runner, standardOutput: out, standardError: err).run(arguments), out, err)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nhgd-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// trace.csv without its wall-time column, and the JSON summary without its times and path.
    static func results(_ directory: URL, _ out: CapturedText) throws -> (trace: [String], summary: String) {
        let csv = try String(contentsOf: directory.appendingPathComponent("trace.csv"), encoding: .utf8)
        let trace = csv.split(whereSeparator: \.isNewline).map { line in
            var fields = line.split(separator: ",", omittingEmptySubsequences: false)
            fields.remove(at: 2)   // seconds
            return fields.joined(separator: ",")
        }
        guard case let .object(pairs) = try JSONValue(parsing: try #require(out.lines.last)) else { return (trace, "") }
        let kept = pairs.filter { !["seconds", "total_seconds", "output"].contains($0.0) }
        return (trace, JSONValue.object(kept).serialized())
    }

    /// Stopped after every iteration k in turn (pipelined, with two threads, and sequential),
    /// then resumed: the trace (but for wall time) and every result equal the uninterrupted
    /// run's, digit for digit as written; the stopped run wrote no `--output` and said in one
    /// line how to resume.
    @Test(arguments: ["1", "2"])
    func aRunStoppedAfterAnyIterationResumesToTheSameTraceAndResults(threads: String) throws {
        let base = ["regularize", "--outer-steps", "4", "--inner-steps", "8", "--threads", threads, "--quiet"]
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let whole = directory.appendingPathComponent("whole")
        let (status, out, err) = Self.run(base + ["--output", whole.path])
        #expect(status == .success, "\(err.text)")
        let expected = try Self.results(whole, out)
        for k in 1...4 {
            let checkpoint = directory.appendingPathComponent("run-\(k).ckpt").path
            let partial = directory.appendingPathComponent("partial-\(k)")
            let (stopped, _, stopErr) = Self.run(base + ["--checkpoint", checkpoint, "--output", partial.path], stopAfter: k)
            #expect(stopped == .interrupted)
            #expect(stopErr.lines.count == 1)
            #expect(stopErr.text.hasPrefix("nhgd: stopped by SIGINT after outer iteration \(k) of 4; resume with: nhgd regularize"))
            #expect(stopErr.text.hasSuffix("--resume \(checkpoint)\n"))
            #expect(!FileManager.default.fileExists(atPath: partial.path), "a stopped run wrote --output")
            let resumedOutput = directory.appendingPathComponent("resumed-\(k)")
            let (resumed, resumedOut, resumedErr) = Self.run(base + ["--checkpoint", checkpoint, "--resume", checkpoint,
                                                                     "--output", resumedOutput.path])
            #expect(resumed == .success, "\(resumedErr.text)")
            let got = try Self.results(resumedOutput, resumedOut)
            #expect(got.trace == expected.trace, "stopped after \(k), threads \(threads)")
            #expect(got.summary == expected.summary, "stopped after \(k), threads \(threads)")
        }
    }

    /// Missing, truncated, corrupt, foreign and other-configuration checkpoints: one line on
    /// standard error, nothing on standard output, status 2, the file unchanged.
    @Test func unusableCheckpointsAreOneLineAndStatus2() throws {
        let base = ["regularize", "--outer-steps", "2", "--inner-steps", "4", "--threads", "1", "--quiet"]
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.ckpt").path
        #expect(Self.run(base + ["--checkpoint", good]).0 == .success)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        func write(_ name: String, _ data: Data) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try data.write(to: URL(fileURLWithPath: path))
            return path
        }
        var corrupt = bytes
        corrupt[corrupt.count - 3] ^= 1
        var version = bytes
        version[8] = 2
        let cases: [(path: String, arguments: [String], message: String)] = [
            (directory.appendingPathComponent("missing").path, base, "no such file"),
            (try write("truncated", bytes.prefix(bytes.count - 8)), base, "checkpoint is truncated"),
            (try write("corrupt", corrupt), base, "checkpoint is corrupt (checksum"),
            (try write("version", version), base, "checkpoint format version 2, this build reads version 1"),
            (try write("csv", Data("1,2,0\n".utf8)), base, "not an nhgd checkpoint"),
            (good, base.map { $0 == "4" ? "5" : $0 }, "checkpoint is of another run: inner_steps is '5' here but '4'"),
            (good, base + ["--estimator", "cg"], "checkpoint is of another run: estimator is 'cg' here but 'nhgd'"),
        ]
        for c in cases {
            let before = try? Data(contentsOf: URL(fileURLWithPath: c.path))
            let (status, out, err) = Self.run(c.arguments + ["--checkpoint", c.path, "--resume", c.path])
            #expect(status == .usage, "\(c.message)")
            #expect(out.text.isEmpty)
            #expect(err.lines.count == 1, "\(err.text)")
            #expect(err.text.hasPrefix("nhgd: error: cannot resume from '\(c.path)': \(c.message)"), "\(err.text)")
            #expect((try? Data(contentsOf: URL(fileURLWithPath: c.path))) == before, "\(c.message): the file changed")
        }
        // A checkpoint location that cannot be written is a bad command line, found first.
        let (status, _, err) = Self.run(base + ["--checkpoint", directory.path + "/no/such/dir/c.ckpt"])
        #expect(status == .usage)
        #expect(err.lines.first?.hasPrefix("nhgd: error: bad '--checkpoint': directory") == true)
        #expect(Self.run(["compare", "--checkpoint", good]).0 == .usage)
    }

    /// The real signals, to the real executable: SIGINT, then SIGTERM on the resumed run, end
    /// it after the current iteration (and its checkpoint) with status 130 and 143 and one line
    /// each; a third run resumes from the last checkpoint.
    @Test func signalsStopTheExecutableAfterAnIterationWithTheShellsStatus() throws {
        let url = try #require(ExecutableTests.executableURL(), "nhgd not found")
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("c.ckpt").path
        let arguments = ["regularize", "--outer-steps", "100", "--inner-steps", "20", "--threads", "1", "--quiet",
                         "--checkpoint", checkpoint]
        func start(_ extra: [String]) throws -> (Process, Pipe) {
            let process = Process()
            process.executableURL = url
            process.arguments = arguments + extra
            let stderr = Pipe()
            process.standardError = stderr
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return (process, stderr)
        }
        for (signal, status) in [(SIGINT, Int32(130)), (SIGTERM, 143)] {
            let before = (try? FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate]) as? Date
            let (process, stderr) = try start(signal == SIGINT ? [] : ["--resume", checkpoint])
            // Signal once a (new) checkpoint is there.
            for _ in 0..<1000 {
                let now = (try? FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate]) as? Date
                if now != nil, now != before { break }
                Thread.sleep(forTimeInterval: 0.01)
            }
            signal == SIGINT ? process.interrupt() : process.terminate()
            let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == status, "\(text)")
            let lines = text.split(separator: "\n")
            #expect(lines.count == 1, "\(text)")
            #expect(lines.first?.hasPrefix("nhgd: stopped by \(signal == SIGINT ? "SIGINT" : "SIGTERM") after outer iteration") == true,
                    "\(text)")
            #expect(lines.first?.hasSuffix("--resume \(checkpoint)") == true, "\(text)")
        }
        let (process, stderr) = try start(["--resume", checkpoint])
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
    }
}
