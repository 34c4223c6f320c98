import Foundation
import Testing
import NHGDReporting
@testable import NHGDCommand

/// The real numerical runner behind `nhgd`, end to end on small settings (the property tests of
/// each numerical piece live in the lower layers' test targets).
@Suite("nhgd with the numerical runner")
struct NumericalExperimentRunnerTests {
    func run(_ arguments: [String]) -> (ToolExitStatus, CapturedText, CapturedText) {
        let out = CapturedText(), err = CapturedText()
        let tool = NHGDTool(runner: NumericalExperimentRunner(), standardOutput: out, standardError: err)
        return (tool.run(arguments), out, err)
    }

    @Test func regularizeOnBreastCancerLowersTheValidationLoss() throws {
        let (status, out, err) = run(["regularize", "--outer-steps", "15", "--quiet", "--threads", "1"])
        #expect(status == .success, "\(err.text)")
        let json = try JSONValue(parsing: try #require(out.lines.last))
        let before = try #require(json["validation_loss_before"]?.doubleValue)
        let after = try #require(json["validation_loss_after"]?.doubleValue)
        // Hypergradient descent on the validation loss: after 15 steps it must have gone down.
        #expect(after < before, "validation loss \(before) → \(after)")
    }

    @Test func everyEstimatorRunsInCompare() throws {
        let (status, out, err) = run(["compare", "--task", "regularize", "--estimators", EstimatorName.choices.joined(separator: ","),
                                      "--outer-steps", "3", "--quiet", "--threads", "2"])
        #expect(status == .success, "\(err.text)")
        let json = try JSONValue(parsing: try #require(out.lines.last))
        guard case let .array(entries)? = json["results"] else { Issue.record("no results"); return }
        #expect(entries.count == EstimatorName.allCases.count)
        for entry in entries { #expect(entry["error"] == nil, "\(entry)") }
    }

    /// The methods of the baselines issue side by side on hyper-cleaning (a small split).
    @Test func sobaQNBOAndNBORunInCompareOnHyperCleaning() throws {
        let names = ["soba", "qnbo", "nbo"]
        let (status, out, err) = run(["compare", "--estimators", names.joined(separator: ","), "--train", "150",
                                      "--validation", "100", "--test", "100", "--outer-steps", "2", "--inner-steps", "5",
                                      "--rank", "4", "--quiet", "--threads", "1"])
        #expect(status == .success, "\(err.text)")
        let json = try JSONValue(parsing: try #require(out.lines.last))
        guard case let .array(entries)? = json["results"] else { Issue.record("no results"); return }
        #expect(entries.compactMap { entry -> String? in if case let .string(name)? = entry["estimator"] { name } else { nil } } == names)
        for entry in entries {
            #expect(entry["error"] == nil, "\(entry)")
            for key in ["cleaned_accuracy", "auroc", "final_outer_loss"] {
                #expect((entry[key]?.doubleValue).map { $0.isFinite } == true, "\(entry) lacks \(key)")
            }
        }
    }

    @Test func cleanReportsTheThreeReferenceAccuracies() throws {
        let (status, out, err) = run(["clean", "--train", "200", "--validation", "100", "--test", "200", "--outer-steps", "3",
                                      "--inner-steps", "10", "--rank", "8", "--quiet"])
        #expect(status == .success, "\(err.text)")
        let json = try JSONValue(parsing: try #require(out.lines.last))
        for key in ["corrupted_accuracy", "oracle_accuracy", "cleaned_accuracy", "gap_closed", "auroc", "seconds"] {
            let value = try #require(json[key]?.doubleValue, "missing \(key)")
            #expect(value.isFinite, "\(key) = \(value)")
        }
        #expect(try #require(json["seconds"]?.doubleValue) <= (try #require(json["total_seconds"]?.doubleValue)))
    }

    /// The network end to end on a small split: the reference accuracies, the gap and the
    /// AUROC are reported, with the model and width in trace.json's configuration.
    @Test func cleanWithTheNetworkReportsTheReferences() throws {
        let (status, out, err) = run(["clean", "--model", "mlp", "--hidden", "8", "--train", "200", "--validation", "100",
                                      "--test", "200", "--outer-steps", "3", "--inner-steps", "10", "--estimator", "nhgd-pcg",
                                      "--quiet"])
        #expect(status == .success, "\(err.text)")
        let json = try JSONValue(parsing: try #require(out.lines.last))
        for key in ["corrupted_accuracy", "oracle_accuracy", "cleaned_accuracy", "gap_closed", "auroc"] {
            let value = try #require(json[key]?.doubleValue, "missing \(key)")
            #expect(value.isFinite, "\(key) = \(value)")
        }
    }

    /// `exact` with the network (p = 407,050) needs a 1.2 TiB Hessian: refused before any
    /// work, one line naming the memory, status 2; in `compare` before the other estimators run.
    @Test func exactIsRefusedAtOnceWhereItsHessianCannotFit() throws {
        for arguments in [["clean", "--model", "mlp", "--estimator", "exact"],
                          ["compare", "--model", "mlp", "--hidden", "1280", "--estimators", "nhgd,exact"]] {
            let (status, out, err) = run(arguments)
            #expect(status == .usage, "\(arguments)")
            let line = try #require(err.lines.first)
            let p = arguments.contains("1280") ? "1017610" : "407050"
            #expect(line.contains("estimator 'exact' needs a dense \(p) × \(p) inner Hessian"), "\(line)")
            #expect(line.contains(arguments.contains("1280") ? "7.5 TiB" : "1.2 TiB"), "\(line)")
            #expect(out.text.isEmpty, "\(arguments): something ran")
        }
        // The linear model's 7,850² Hessian (493 MB) fits and is accepted.
        #expect(throws: Never.self) {
            try NumericalExperimentRunner().check(RunConfiguration(task: .clean(noise: 0.5), estimator: .exact))
        }
    }

    @Test func divergenceIsOneClearLineAndExitStatus1() throws {
        // η·e^{x} = 50 > 2: the regulariser alone multiplies y by −49 per step, so y overflows
        // within 400 steps.
        let (status, out, err) = run(["regularize", "--inner-lr", "50", "--inner-steps", "400", "--outer-steps", "3"])
        #expect(status == .failure)
        #expect(err.lines.count == 1)
        #expect(err.text.contains("diverged") && err.text.contains("inner learning rate"))
        _ = out
    }

    /// Divergence in progress is not a success, and the blame is where it belongs: an inner step
    /// the regulariser alone makes unstable (η·2c = 6000 > 2) is refused before any step, naming
    /// the inner limit 2/(2c) = 333 (it used to exit 0 at outer loss 1.6e40); an outer step
    /// that sends x where the regulariser's curvature overflows names the outer learning rate
    /// (it used to blame the inner one).
    @Test func divergenceNamesTheLearningRateToLower() throws {
        let f = ["--outer-steps", "2", "--inner-steps", "5", "--quiet"]
        let cases: [([String], String)] = [
            (["clean", "--inner-lr", "1e6"], "outer iteration 1) diverged: η = 1e+06 times the regulariser's largest curvature 0.006 is above 2: lower the inner learning rate below 333"),
            (["regularize", "--inner-lr", "1e6"], "lower the inner learning rate below 2"),
            (["regularize", "--outer-lr", "1e6"], "outer iteration 2) diverged: the outer steps moved x to where the regulariser's curvature overflows: lower the outer learning rate 1e+06"),
        ]
        for (arguments, message) in cases {
            let (status, out, err) = run(arguments + f)
            #expect(status == .failure, "\(arguments)")
            #expect(err.lines.count == 1 && err.text.contains(message), "\(arguments): \(err.text)")
            #expect(out.text.isEmpty, "\(arguments)")
        }
    }

    /// The issue's `compare` in which every estimator diverges: one error line naming each
    /// estimator's reason (there were four lines), status 1, no JSON.
    @Test func compareWhereEveryEstimatorFailsIsOneLine() throws {
        let (status, out, err) = run(["compare", "--task", "regularize", "--estimators", "nhgd,cg,neumann", "--outer-lr", "1e6",
                                      "--outer-steps", "2", "--inner-steps", "5", "--threads", "1"])
        #expect(status == .failure)
        #expect(err.lines.count == 1, "\(err.lines)")
        let line = try #require(err.lines.first)
        #expect(line.hasPrefix("nhgd: error: every estimator failed: nhgd: "))
        #expect(line.contains("; cg: ") && line.contains("; neumann: "))
        #expect(!out.text.contains("{"))
    }

    @Test func userCSVIsUsed() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Two separable Gaussian blobs in 3 dimensions, label last.
        var lines: [String] = []
        for i in 0..<120 {
            let label = i % 2
            let shift = label == 0 ? -1.0 : 1.0
            let features = (0..<3).map { j in String(shift + 0.3 * sin(Double(7 * i + 3 * j))) }
            lines.append((features + [String(label)]).joined(separator: ","))
        }
        let path = dir + "/blobs.csv"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let (status, out, err) = run(["regularize", "--data", path, "--outer-steps", "3", "--quiet"])
        #expect(status == .success, "\(err.text)")
        #expect(try JSONValue(parsing: try #require(out.lines.last))["test_accuracy_after"] != nil)
    }
}

/// A `--data` file that cannot be used is a bad command line, whatever is wrong with it: one
/// line naming the file and the problem, the usage, exit status 2, nothing on stdout, no files.
@Suite("nhgd with an unusable --data file")
struct UnusableDataFileTests {
    @Test func malformedOrUnsuitableFilesAreUsageErrors() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let threeClasses = (0..<30).map { "\(Double($0) / 7),\(sin(Double($0))),\($0 % 3)" }.joined(separator: "\n")
        let cases: [(name: String, contents: String, command: String, reason: String)] = [
            ("malformed.csv", "1,2,0\n3,x,1\n", "clean", "line 2"),
            ("ragged.csv", "1,2,0\n3,1\n", "regularize", "line 2"),
            ("three-classes.csv", threeClasses, "regularize", "regularize needs two classes"),
            ("too-small.csv", "1,2,0\n3,4,1\n", "clean", "split sizes"),
        ]
        for entry in cases {
            let path = dir + "/" + entry.name
            try entry.contents.write(toFile: path, atomically: true, encoding: .utf8)
            let output = dir + "/out-" + entry.name
            let out = CapturedText(), err = CapturedText()
            let tool = NHGDTool(runner: NumericalExperimentRunner(), standardOutput: out, standardError: err)
            let status = tool.run([entry.command, "--data", path, "--outer-steps", "1", "--output", output])
            #expect(status == .usage, "\(entry.name): \(err.text)")
            let lines = err.lines
            #expect(lines.count == 3, "\(entry.name): \(lines)")
            #expect(lines.first?.hasPrefix("nhgd: error: bad '--data' file '\(path)': ") == true, "\(entry.name): \(lines)")
            #expect(lines.first?.contains(entry.reason) == true, "\(entry.name): \(lines)")
            #expect(lines.dropFirst().first == "usage: nhgd \(entry.command) [options]", "\(entry.name): \(lines)")
            #expect(out.text.isEmpty, "\(entry.name) wrote to stdout: \(out.text)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(entry.name) left \(output) behind")
        }
    }
}
