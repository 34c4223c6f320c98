import Foundation
import NaturalHypergradient
import NHGDReporting
import Testing
@testable import NHGDCommand

/// `--train/--validation/--test`: a part not given takes the default of the data set the task
/// splits, and a split that does not fit is a bad command line (status 2, one line naming the
/// sizes), found before anything runs.
@Suite("Split sizes")
struct SplitRequestTests {
    static let small = SplitData(source: .builtIn("small"), sampleCount: 10, defaults: SplitSizes(training: 3, validation: 3, test: 4))

    @Test func partsNotGivenTakeTheDataSetsDefaults() throws {
        #expect(try SplitRequest().resolved(for: Self.small) == SplitSizes(training: 3, validation: 3, test: 4))
        #expect(try SplitRequest(training: 2).resolved(for: Self.small) == SplitSizes(training: 2, validation: 3, test: 4))
        #expect(try SplitRequest(validation: 1, test: 6).resolved(for: Self.small) == SplitSizes(training: 3, validation: 1, test: 6))
        // Breast cancer's thirds, not hyper-cleaning's 1000 / 2000 (the old behaviour).
        #expect(try SplitRequest(training: 100).resolved(for: .breastCancer) == SplitSizes(training: 100, validation: 189, test: 191))
        #expect(try SplitRequest(test: 100).resolved(for: .mnistPair(DigitPair(first: 3, second: 8)))
            == SplitSizes(training: 300, validation: 300, test: 100))
        #expect(try SplitRequest(training: 10).resolved(for: .file("f.csv", sampleCount: 120, task: .regularize(pair: nil)))
            == SplitSizes(training: 10, validation: 40, test: 40))
        #expect(try SplitRequest(training: 10).resolved(for: .file("f.csv", sampleCount: 9000, task: .clean(noise: 0.5)))
            == SplitSizes(training: 10, validation: 1000, test: 2000))
        // Exactly the whole data set fits.
        #expect(try SplitRequest(training: 4, validation: 2).resolved(for: Self.small) == SplitSizes(training: 4, validation: 2, test: 4))
    }

    @Test func splitsThatDoNotFitAreRefusedNamingTheSizes() {
        #expect(throws: SplitSizeError(sizes: SplitSizes(training: 4, validation: 3, test: 4), data: Self.small)) {
            try SplitRequest(training: 4).resolved(for: Self.small)
        }
        let overflowing = SplitSizes(training: .max, validation: 1000, test: 2000)
        #expect(throws: SplitSizeError(sizes: overflowing, data: .mnist5k)) { try SplitRequest(training: .max).resolved(for: .mnist5k) }
        #expect(SplitSizeError(sizes: overflowing, data: .mnist5k).description
            == "split sizes 9223372036854775807 + 1000 + 2000 (--train, --validation, --test) add up to more than the 5000 samples of MNIST-5k")
        #expect(throws: SplitSizeError.self) { try SplitRequest(training: .max, validation: .max, test: .max).resolved(for: Self.small) }
        // The default thirds of a file of 2 samples leave training and validation empty.
        let tiny = SplitData.file("t.csv", sampleCount: 2, task: .regularize(pair: nil))
        #expect(throws: SplitSizeError(sizes: SplitSizes(training: 0, validation: 0, test: 2), data: tiny)) {
            try SplitRequest().resolved(for: tiny)
        }
        #expect(SplitSizeError(sizes: SplitSizes(training: 0, validation: 0, test: 2), data: tiny).description
            == "bad '--data' file 't.csv': split sizes 0 + 0 + 2 (--train, --validation, --test) leave no training or validation sample of its 2")
    }

    /// The sample counts the split checks against are those of the shipped files.
    @Test func builtInCountsAreThoseOfTheShippedData() throws {
        let mnist = try Dataset.mnist5k(), cancer = try Dataset.breastCancer()
        #expect(SplitData.mnist5k.sampleCount == mnist.sampleCount)
        #expect(SplitData.breastCancer.sampleCount == cancer.sampleCount)
        for first in 0...9 {
            for second in 0...9 where second != first {
                let pair = try mnist.binaryPair(positive: second, negative: first)
                #expect(SplitData.mnistPair(DigitPair(first: first, second: second)).sampleCount == pair.sampleCount)
            }
        }
    }

    func run(_ arguments: [String]) -> (ToolExitStatus, CapturedText, CapturedText) {
        let out = CapturedText(), err = CapturedText()
        let tool = NHGDTool(runner: NumericalExperimentRunner(), standardOutput: out, standardError: err)
        return (tool.run(arguments), out, err)
    }

    /// The cases with the real runner: one line, the usage, status 2, nothing on
    /// standard output; and partial splits that now run.
    @Test func theToolRefusesSplitsThatDoNotFitAndRunsPartialOnes() throws {
        let quick = ["--outer-steps", "2", "--inner-steps", "5", "--threads", "1"]
        let refused: [([String], String)] = [
            (["clean", "--train", "9223372036854775807"],
             "split sizes 9223372036854775807 + 1000 + 2000 (--train, --validation, --test) add up to more than the 5000 samples of MNIST-5k"),
            (["regularize", "--train", "400"],
             "split sizes 400 + 189 + 191 (--train, --validation, --test) add up to 780, more than the 569 samples of breast cancer"),
            (["regularize", "--pair", "3,8", "--test", "500"],
             "split sizes 300 + 300 + 500 (--train, --validation, --test) add up to 1100, more than the 1000 samples of MNIST 3 vs 8"),
            (["compare", "--task", "regularize", "--estimators", "cg,nhgd", "--validation", "9223372036854775807"],
             "split sizes 189 + 9223372036854775807 + 191 (--train, --validation, --test) add up to more than the 569 samples of breast cancer"),
        ]
        for (arguments, message) in refused {
            let (status, out, err) = run(arguments + quick)
            #expect(status == .usage, "\(arguments): \(err.text)")
            #expect(err.lines.count == 3 && err.lines.first == "nhgd: error: " + message, "\(arguments): \(err.lines)")
            #expect(err.lines.dropFirst().first?.hasPrefix("usage: nhgd \(arguments[0])") == true)
            #expect(out.text.isEmpty, "\(arguments)")
        }
        // Partial splits take the data set's own defaults for the other parts and run.
        for arguments in [["regularize", "--train", "100"], ["compare", "--task", "regularize", "--estimators", "cg", "--test", "50"]] {
            let (status, out, err) = run(arguments + quick + ["--quiet"])
            #expect(status == .success, "\(arguments): \(err.text)")
            #expect(err.text.isEmpty && out.lines.count == 1, "\(arguments)")
        }
    }

    @Test func aUsersFileIsSplitByItsOwnSize() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rows = (0..<120).map { i in "\(Double(i % 2) + 0.3 * sin(Double(i))),\(cos(Double(3 * i))),\(i % 2)" }
        let path = dir + "/blobs.csv"
        try rows.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let quick = ["--outer-steps", "2", "--inner-steps", "5", "--threads", "1", "--quiet", "--data", path]
        let (status, _, err) = run(["regularize", "--validation", "20"] + quick)
        #expect(status == .success, "\(err.text)")
        let (refused, out, err2) = run(["regularize", "--train", "100"] + quick)
        #expect(refused == .usage)
        #expect(err2.lines.first == "nhgd: error: bad '--data' file '\(path)': split sizes 100 + 40 + 40 (--train, --validation, --test) add up to 180, more than its 120 samples")
        #expect(out.text.isEmpty)
    }
}
