// libFuzzer target: nhgd's command line (ArgumentParser with nhgd's declaration, then
// RunConfiguration and the split resolution the runner applies).
//
// Input: the arguments separated by NUL bytes (at most 64 of them). Properties checked: nothing
// traps; every error the tool would print is one line; help and usage render; a configuration
// that is accepted resolves its split against every built-in data set without trapping.
import Foundation
@testable import NHGDCommand
import NHGDReporting

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArgumentParser(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { UnsafeRawBufferPointer(start: $0, count: count) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
    let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).prefix(64)
        .map { String(decoding: $0, as: UTF8.self) }
    let parser = NHGDCommandLine.parser
    func oneLine(_ message: String) {
        precondition(!message.contains("\n"), "a message of more than one line: \(message.debugDescription)")
    }
    do {
        let parsed = try parser.parse(Array(arguments))
        if parsed.helpRequested {
            _ = parser.helpText(for: parsed.commandPath)
            return 0
        }
        for estimator in EstimatorName.allCases {
            do {
                let configuration = try RunConfiguration(parsed, estimator: estimator)
                _ = configuration.json.serialized()
                for data in [SplitData.mnist5k, .breastCancer, .mnistPair(DigitPair(first: 3, second: 8)),
                             .file("f.csv", sampleCount: 100, task: configuration.task)] {
                    do {
                        _ = try configuration.split.resolved(for: data)
                    } catch {
                        oneLine(error.description)
                    }
                }
            } catch {
                oneLine(error.description)
                _ = parser.usage(for: error.commandPath)
            }
        }
    } catch {
        oneLine(error.description)
        _ = parser.usage(for: error.commandPath)
    }
    return 0
}
