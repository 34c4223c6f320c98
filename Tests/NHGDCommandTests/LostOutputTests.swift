import Foundation
import NHGDCommand
import NHGDReporting
import Synchronization
import Testing

/// A sink whose writes start failing after `working` of them, as standard output does on a
/// full disk or when the reader of a pipe has gone.
final class FailingSink: TextSink {
    private let state: Mutex<(remaining: Int, failure: TextSinkFailure?, text: String)>
    let code: Int32

    init(working: Int, code: Int32 = ENOSPC) {
        state = Mutex((working, nil, ""))
        self.code = code
    }

    func write(_ text: String) {
        state.withLock { s in
            guard s.failure == nil else { return }
            if s.remaining == 0 {
                s.failure = TextSinkFailure(stream: "standard output", code: code)
            } else {
                s.remaining -= 1
                s.text += text
            }
        }
    }

    var failure: TextSinkFailure? { state.withLock { $0.failure } }
    var text: String { state.withLock { $0.text } }
}

/// Output that cannot be written does not crash the tool and is never reported as success.
@Suite("nhgd when its output cannot be written")
struct LostOutputTests {
    @Test func lostStandardOutputFailsTheRunWithOneLineButStillWritesTheFiles() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for working in [0, 2, 5] {  // before the first progress line, in the middle, at the JSON line
            let out = FailingSink(working: working), err = CapturedText()
            let runner = ScriptedRunner()
            let target = dir + "/run\(working)"
            let status = NHGDTool(runner: runner, standardOutput: out, standardError: err)
                .run(["clean", "--outer-steps", "5", "--output", target])
            #expect(status == .failure, "failing after \(working) writes")
            #expect(err.lines == ["nhgd: error: cannot write standard output: No space left on device"], "\(working)")
            // Nothing was written after the failure, and the run went on to the end.
            #expect(out.text.split(separator: "\n").count == working)
            #expect(runner.configurations.count == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: target).sorted() == ["plot.svg", "trace.csv", "trace.json"])
        }
    }

    @Test func lostStandardErrorFailsAnOtherwiseSuccessfulRun() {
        // compare with one failing estimator: the run succeeds, but its warning is lost.
        let out = CapturedText(), err = FailingSink(working: 0, code: EBADF)
        let status = NHGDTool(runner: ScriptedRunner(failing: [.cg]), standardOutput: out, standardError: err)
            .run(["compare", "--estimators", "nhgd,cg", "--outer-steps", "2"])
        #expect(status == .failure)
        #expect(out.lines.last?.hasPrefix("{") == true)
        // A successful run that writes nothing to standard error is not affected.
        let quiet = NHGDTool(runner: ScriptedRunner(), standardOutput: CapturedText(), standardError: FailingSink(working: 0))
        #expect(quiet.run(["--outer-steps", "2", "--quiet"]) == .success)
    }

    @Test func badCommandLinesAndFailedRunsKeepTheirStatus() {
        let usage = NHGDTool(runner: ScriptedRunner(), standardOutput: CapturedText(), standardError: FailingSink(working: 0))
        #expect(usage.run(["--rank", "0"]) == .usage)
        let failed = NHGDTool(runner: ScriptedRunner(failing: [.nhgd]), standardOutput: FailingSink(working: 0),
                              standardError: FailingSink(working: 0))
        #expect(failed.run(["--outer-steps", "2"]) == .failure)
        let help = CapturedText()
        #expect(NHGDTool(runner: ScriptedRunner(), standardOutput: FailingSink(working: 0), standardError: help)
            .run(["--help"]) == .failure)
        #expect(help.lines == ["nhgd: error: cannot write standard output: No space left on device"])
    }

    /// The real stream: a write to a closed descriptor is remembered, not trapped on.
    @Test func standardStreamRemembersTheFirstFailure() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0])  // no reader: every write fails with EPIPE (SIGPIPE is ignored below)
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous); close(fds[1]) }
        let stream = StandardStream(descriptor: fds[1], name: "the pipe")
        #expect(stream.failure == nil)
        stream.write("first\n")
        #expect(stream.failure == TextSinkFailure(stream: "the pipe", code: EPIPE))
        stream.write("second\n")
        #expect(stream.failure?.description == "cannot write the pipe: Broken pipe")
        let closed = StandardStream(descriptor: 987_654, name: "a closed descriptor")
        closed.write("x")
        #expect(closed.failure?.code == EBADF)
    }
}
